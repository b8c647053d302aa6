// Pages that only need their <time data-relative> labels kept fresh (the
// search results): "5 min ago", the exact time on hover.
import { startClock } from "./chat-util.js";

startClock();

// The page frame's two toggles: the top nav's "Menu" on a narrow screen,
// and the chat sidebar as a drawer on a phone ("Chats" opens it; Escape, the
// close button or a click beside it closes it, and focus returns).
const nav = document.querySelector(".site-nav");
const menu = document.querySelector("[data-nav-toggle]");
const opener = document.querySelector("[data-drawer-open]");
const drawer = document.getElementById("chat-sidebar");

menu?.addEventListener("click", () => {
  const open = !nav.classList.contains("open");
  nav.classList.toggle("open", open);
  menu.setAttribute("aria-expanded", String(open));
});

function setDrawer(open) {
  document.body.classList.toggle("drawer-shown", open);
  opener?.setAttribute("aria-expanded", String(open));
  if (open) drawer?.querySelector("a, button")?.focus();
  else opener?.focus();
}

if (drawer && opener) {
  opener.addEventListener("click", () => setDrawer(!document.body.classList.contains("drawer-shown")));
  drawer.querySelector("[data-drawer-close]")?.addEventListener("click", () => setDrawer(false));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && document.body.classList.contains("drawer-shown")) setDrawer(false);
  });
  document.addEventListener("click", (e) => {
    if (document.body.classList.contains("drawer-shown") && !drawer.contains(e.target) && !opener.contains(e.target)) setDrawer(false);
  });
}

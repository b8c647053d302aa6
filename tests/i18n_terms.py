"""The one allow-list of words that stay as they are in every language
(issue 19): product and protocol names, units, setting names. The pages'
"no English left" tests (tests/i18n_text.py) accept these and nothing else,
apart from the names a test itself created (usernames, remote names)."""

PRODUCT_TERMS = frozenset(
    word.lower()
    for word in (
        # the product and the tools it drives
        "Teamhub", "rclone", "cron", "Celery", "Redis",
        # storage backends and protocols
        "S3", "WebDAV", "SFTP", "FTP", "HTTP", "HTTPS", "TLS", "SSH", "PEM", "URL", "ID", "IP", "API", "JSON", "IANA",
        "CSV", "HMAC",
        "ISO",
        # time-zone abbreviations (what the zone database calls them)
        "UTC", "GMT", "KST", "CST", "JST", "CET", "CEST",
        # binary units (the same in every language)
        "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
        # decimal units and milliseconds (the same in every language)
        "MB", "ms",
        # setting names shown to administrators
        "RCLONE_LOCAL_ROOTS",
    )
)

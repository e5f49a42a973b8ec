#!/usr/bin/env python3
"""pytest's JUnit XML report as lines for a TAP test script (t310): one line
per pytest test, "ok|fail|skip<TAB>name<TAB>message" (the message on one
line, for the script's `# ` comments). Debian 12 has no pytest-tap plugin;
`--junitxml` is pytest's own. Exit status 1 when the report is unreadable."""
import sys
import xml.etree.ElementTree as ET


def one_line(text: str) -> str:
    return " | ".join(x.strip() for x in (text or "").splitlines() if x.strip())[:2000]


def main() -> int:
    try:
        root = ET.parse(sys.argv[1]).getroot()
    except (OSError, ET.ParseError, IndexError) as e:
        print(f"fail\tpytest's report\tunreadable: {e}")
        return 1
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        status, msg = "ok", ""
        for child in case:
            if child.tag in ("failure", "error"):
                status = "fail"
                msg = one_line((child.get("message") or "") + "\n" + (child.text or ""))
                break
            if child.tag == "skipped":
                status, msg = "skip", one_line(child.get("message") or "skipped")
        print(f"{status}\t{name}\t{msg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

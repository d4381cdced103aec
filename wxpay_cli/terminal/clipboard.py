"""Put text on the system clipboard through the platform's own tool, or say why not.

Tried in order: pbcopy (macOS), wl-copy (Wayland), xclip and xsel (X11),
clip.exe (Windows and WSL). The OSC 52 terminal escape is not used: wxpay
could not tell whether the terminal honoured it, and an operator who believes
the link was copied when it was not would paste the previous pupil's link.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

TIMEOUT = 5.0


def _candidates() -> list[tuple[list[str], str]]:
    """(argv, encoding) for each tool that may work here, best first."""
    tools: list[tuple[list[str], str]] = []
    if sys.platform == "darwin":
        tools.append((["pbcopy"], "utf-8"))
    if os.environ.get("WAYLAND_DISPLAY"):
        tools.append((["wl-copy"], "utf-8"))
    if os.environ.get("DISPLAY"):
        tools.append((["xclip", "-selection", "clipboard"], "utf-8"))
        tools.append((["xsel", "--clipboard", "--input"], "utf-8"))
    # clip.exe reads UTF-16 with its byte-order mark; UTF-8 would garble Chinese names.
    tools.append((["clip.exe"], "utf-16"))
    if sys.platform == "win32":
        tools.append((["clip"], "utf-16"))
    return tools


def copy(text: str) -> tuple[str | None, str | None]:
    """(the tool that took the text, None) or (None, why nothing was copied)."""
    problems = []
    for argv, encoding in _candidates():
        path = shutil.which(argv[0])
        if path is None:
            continue
        try:
            # xclip and wl-copy stay behind to serve the clipboard: never wait on their output.
            done = subprocess.run([path, *argv[1:]], input=text.encode(encoding), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            problems.append(f"{argv[0]}: {exc.__class__.__name__}")
            continue
        if done.returncode == 0:
            return argv[0], None
        problems.append(f"{argv[0]}: exit {done.returncode}")
    return None, "; ".join(problems) or None


def copy_and_tell(text: str, what: str) -> None:
    """Copy, and say on stderr whether it worked: a failed copy must never pass for a good one."""
    from wxpay_cli.i18n import _
    from wxpay_cli.terminal import output

    tool, problem = copy(text)
    if tool:
        output.info(_("{what} copied to the clipboard ({tool})").format(what=what, tool=tool))
    elif problem:
        output.warn(_("could not copy the {what} to the clipboard ({problem}); nothing was copied")
                    .format(what=what, problem=problem))
    else:
        output.warn(_("no clipboard tool found (pbcopy, wl-copy, xclip, xsel, clip.exe); nothing was copied"))

"""CI's floors run (.ci/floors.py): what it installs."""

TESTS = ["tests/test_floors.py"]

MUTATIONS = [
    # (path, original, replacement, why)
    (".ci/floors.py", "    if latest:\n        return specs\n", "", "--latest installs the floors"),
    (".ci/floors.py", '    specs = project["dependencies"] + project["optional-dependencies"]["test"]',
     '    specs = project["dependencies"]', "the test extra never pinned to its floors"),
    (".ci/floors.py", '            sys.exit(f"no floor declared for {spec!r}: declare one")', "            continue",
     "a requirement without a floor silently dropped"),
    (".ci/floors.py", 'pinned.append(f"{match[1]}=={match[2]}")', 'pinned.append(f"{match[1]}>={match[2]}")',
     "the floors never actually installed"),
]

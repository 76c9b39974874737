#!/usr/bin/env python3
"""The N largest C# files under a folder and the largest method of each, in lines (issue 15's house measure).
Usage: scripts/largest-methods.py [DIR] [N]. A method is a member whose signature line ends in ')' (or '=> ...')
and whose body braces are matched; good enough to rank, not a parser."""
import os, re, sys

root = sys.argv[1] if len(sys.argv) > 1 else "src"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 5
signature = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*(?:(?:public|private|internal|protected|static|async|override|sealed|virtual|unsafe|partial|extern|readonly)\s+)+[\w<>\[\],.?() ]+?\s+(\w+)\s*(?:<[^>]*>)?\s*\(")

def methods(lines):
    i = 0
    while i < len(lines):
        m = signature.match(lines[i])
        if m and not lines[i].rstrip().endswith(";"):
            depth, start, opened, j = 0, i, False, i
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                opened |= "{" in lines[j]
                if opened and depth <= 0:
                    break
                if not opened and lines[j].rstrip().endswith(";"):
                    break
                j += 1
            yield m.group(1), start + 1, j - start + 1
            i = j + 1 if opened else i + 1
        else:
            i += 1

files = []
for d, _, names in os.walk(root):
    if "/bin" in d or "/obj" in d:
        continue
    for n in names:
        if n.endswith(".cs"):
            p = os.path.join(d, n)
            with open(p, encoding="utf-8") as f:
                lines = f.read().splitlines()
            files.append((len(lines), p, max(methods(lines), key=lambda t: t[2], default=("-", 0, 0))))
for size, path, (name, line, length) in sorted(files, reverse=True)[:count]:
    print(f"{size:5} lines  {path}   largest method: {name} ({length} lines, from line {line})")

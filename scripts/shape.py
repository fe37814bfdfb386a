#!/usr/bin/env python3
"""Measures the shape issue 16 asks of the sources: files over 500 lines, functions over 80
lines, lines over 120 columns, and NodeCore's stored properties. Prints what exceeds a limit;
exits 1 if anything does and --strict is given. Usage: scripts/shape.py [--strict]"""
import re, subprocess, sys

files = subprocess.run(['git', 'ls-files', 'Sources/*.swift'], capture_output=True, text=True).stdout.split()
problems = []
func_re = re.compile(r'^(\s*)(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|private|fileprivate|static|'
                     r'mutating|nonmutating|override|final|@inlinable|@discardableResult|nonisolated)\s+)*'
                     r'(?:func\s+[^\s(<]+|init\??|subscript)\s*[(<]')
for f in files:
    lines = open(f).read().split('\n')
    if len(lines) - 1 > 500:
        problems.append(f'{f}: {len(lines) - 1} lines (max 500)')
    for i, l in enumerate(lines):
        if len(l) > 120:
            problems.append(f'{f}:{i + 1}: {len(l)} columns (max 120)')
        m = func_re.match(l)
        if not m or '{' not in ''.join(lines[i:i + 6]):
            continue
        indent = m.group(1)
        for j in range(i + 1, len(lines)):
            if lines[j].startswith(indent + '}') and not lines[j].startswith(indent + '} else'):
                if j - i + 1 > 80:
                    name = l.strip()[:60]
                    problems.append(f'{f}:{i + 1}: function of {j - i + 1} lines (max 80): {name}')
                break
core = open('Sources/ColonyCore/Node/NodeCore.swift').read()
body = core[re.search(r'(public |package )?struct NodeCore\b', core).start():]
depth, stored = 0, []
for l in body.split('\n')[1:]:
    if depth == 0 and re.match(r'\s+(public |package )?(internal\(set\) |private\(set\) )?(var|let) \w+', l) \
            and not re.search(r'\{\s*$', l) and '{ ' not in l.split('//')[0].split('=')[0]:
        stored.append(l.strip().split('//')[0])
    depth += l.count('{') - l.count('}')
    if depth < 0:
        break
if len(stored) > 15:
    problems.append(f'NodeCore: {len(stored)} stored properties (max 15)')
print(f'NodeCore stored properties: {len(stored)}')
for p in problems:
    print(p)
print(f'{len(problems)} over a limit')
sys.exit(1 if problems and '--strict' in sys.argv else 0)

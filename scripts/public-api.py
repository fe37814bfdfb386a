#!/usr/bin/env python3
"""Counts each module's public API (issue 16: a small public surface; what only the package's
own modules use is `package`). Extracts the symbol graphs at public access with
`swift package dump-symbol-graph --skip-synthesized-members` (it builds the package, debug) and
prints, per module, its public declarations (every symbol: types, members, cases, operators;
extensions of other modules' types included) and how many of them are types.
Usage: scripts/public-api.py [--no-dump] [--types] [MODULE...]
  --no-dump  reads the symbol graphs of the last run;  --types  lists the public types too."""
import glob, json, os, subprocess, sys

MODULES = ['ColonyCore', 'ColonySimulator', 'ColonyTrust', 'ColonyStore', 'ColonyNIO', 'ColonyAgent']
TYPE_KINDS = {'swift.struct', 'swift.enum', 'swift.class', 'swift.protocol', 'swift.typealias', 'swift.actor'}

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
args = [a for a in sys.argv[1:] if not a.startswith('--')]
if '--no-dump' not in sys.argv:
    for old in glob.glob('.build/*/symbolgraph/*.symbols.json'):
        os.remove(old)
    # On Linux it also fails for the generated test-runner modules (ColonyPackageTests, …),
    # which have no API: its status is not checked, every module's graph is required below.
    subprocess.run(['swift', 'package', 'dump-symbol-graph', '--skip-synthesized-members'],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
dirs = sorted(glob.glob('.build/*/symbolgraph'), key=os.path.getmtime)
missing = [m for m in args or MODULES if not dirs or not os.path.exists(f'{dirs[-1]}/{m}.symbols.json')]
if missing:
    sys.exit(f'no symbol graph for {", ".join(missing)} under .build/*/symbolgraph')
total_decls = total_types = 0
print(f'{"module":<18}{"public":>8}{"types":>7}')
for module in args or MODULES:
    symbols = []
    # Module.symbols.json, plus Module@Other.symbols.json for extensions of other modules' types.
    for path in glob.glob(f'{dirs[-1]}/{module}.symbols.json') + glob.glob(f'{dirs[-1]}/{module}@*.symbols.json'):
        symbols += json.load(open(path))['symbols']
    public = [s for s in symbols if s.get('accessLevel') in ('public', 'open')]
    types = sorted('.'.join(s['pathComponents']) for s in public if s['kind']['identifier'] in TYPE_KINDS)
    total_decls += len(public)
    total_types += len(types)
    print(f'{module:<18}{len(public):>8}{len(types):>7}')
    if '--types' in sys.argv:
        for t in types:
            print(f'    {t}')
print(f'{"total":<18}{total_decls:>8}{total_types:>7}')

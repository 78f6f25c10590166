# Reads each file named on the command line the way Pulp does (ConfigParser, no
# interpolation, duplicate sections and keys allowed) and prints one JSON line per file:
# {section: {key: value}} with DEFAULT's keys inherited, or {"error": <exception class>}.
import configparser
import json
import sys

for path in sys.argv[1:]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        # utf-8-sig: a BOM is not part of the first line (see src/ini/document.ts).
        with open(path, encoding='utf-8-sig') as f:
            parser.read_file(f, path)
        out = {s: dict(parser.items(s)) for s in parser.sections()}
    except configparser.Error as e:
        out = {'error': type(e).__name__}
    print(json.dumps(out))

# Reads each file named on the command line the way Pulp does (ConfigParser, no
# interpolation, duplicate sections and keys allowed) and prints one JSON line per file:
# {section: {key: value}} with DEFAULT's keys inherited, or {"error": <exception class>}.
#
# With --interpolation as the first argument, reads with interpolation instead (Python 3:
# ConfigParser's default BasicInterpolation; Python 2, where this script also runs: Pulp 2's
# own SafeConfigParser, fed bytes as Pulp feeds it) and prints per file
# {"values": {section: {key: value}}, "errors": {section: {key: <exception class>}}}, every
# key read on its own with get() so that one bad key does not hide the others.
import json
import sys

try:
    import configparser
    PY2 = False
except ImportError:
    import ConfigParser as configparser
    PY2 = True


def read_plain(path):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        # utf-8-sig: a BOM is not part of the first line (see src/ini/document.ts).
        with open(path, encoding='utf-8-sig') as f:
            parser.read_file(f, path)
        return {s: dict(parser.items(s)) for s in parser.sections()}
    except configparser.Error as e:
        return {'error': type(e).__name__}


def text(s):
    return s.decode('utf-8') if PY2 else s


def read_interpolated(path):
    try:
        if PY2:
            parser = configparser.SafeConfigParser()
            with open(path, 'rb') as f:
                parser.readfp(f, path)
        else:
            parser = configparser.ConfigParser(strict=False)
            with open(path, encoding='utf-8-sig') as f:
                parser.read_file(f, path)
    except configparser.Error as e:
        return {'error': type(e).__name__}
    values, errors = {}, {}
    for s in parser.sections():
        values[text(s)], errors[text(s)] = {}, {}
        for k in parser.options(s):
            try:
                values[text(s)][text(k)] = text(parser.get(s, k))
            except configparser.InterpolationError as e:
                errors[text(s)][text(k)] = type(e).__name__
    return {'values': values, 'errors': errors}


args = sys.argv[1:]
read = read_plain
if args[:1] == ['--interpolation']:
    args, read = args[1:], read_interpolated
for path in args:
    print(json.dumps(read(path)))

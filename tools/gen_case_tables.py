#!/usr/bin/python3
"""gen_case_tables.py: writes src/core/pycase_tables.h, the data of Python's str case mapping
(str.upper, str.lower, str.title, str.capitalize: Unicode's full mappings with SpecialCasing's
unconditional ones, and the Final_Sigma context of lower) for src/core/pycase.c, as the Python
running this script has them (Debian 12's 3.11: Unicode 14.0). Standard library only; run by
hand when moving to another Python:
    /usr/bin/python3 tools/gen_case_tables.py > src/core/pycase_tables.h

- UPPER, LOWER: each code point whose str.upper() / str.lower() is not itself, with what it
  becomes (up to three code points; U+03A3's lower is its non-final form, the final one being
  context). TITLE: each code point whose title case (str.title() of it alone) is not its
  upper case, with its title case (itself included); the others' title case is UPPER's.
- CASED: the ranges of Unicode's Cased property (Lowercase, Uppercase, Lt), which str.title()
  and the Final_Sigma context read.
- CASE_IGNORABLE: the ranges of Case_Ignorable, read off CPython's own table through the Final
  Sigma rule it applies in str.lower(): a character that is not cased is case-ignorable iff
  'A' + c + 'Σ' lowers to a final sigma, a cased one iff 'AΣ' + c + '1' does.
"""
import sys
import unicodedata

MAX = 0x110000


def chars():
    for cp in range(MAX):
        if not 0xD800 <= cp <= 0xDFFF:
            yield cp, chr(cp)


def cased(c):
    return c.islower() or c.isupper() or unicodedata.category(c) == "Lt"


def ignorable(c):
    if cased(c):
        return ("A\u03a3" + c + "1").lower()[1] == "\u03c2"
    return ("A" + c + "\u03a3").lower()[-1] == "\u03c2"


def ranges(pred):
    out, start = [], None
    for cp in range(MAX + 1):
        ok = cp < MAX and not 0xD800 <= cp <= 0xDFFF and pred(chr(cp))
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def mapping(name, fn, base=lambda c: c):
    rows = []
    for cp, c in chars():
        m = fn(c)
        if m != base(c):
            assert 1 <= len(m) <= 3, (hex(cp), m)
            cps = [ord(x) for x in m] + [0] * (3 - len(m))
            rows.append("    {0x%04X, {0x%04X, 0x%04X, 0x%04X}}," % (cp, *cps))
    return "static const struct case_map %s[] = {\n%s\n};\n" % (name, "\n".join(rows))


def range_table(name, rs):
    body = "\n".join("    {0x%04X, 0x%04X}," % r for r in rs)
    return "static const struct case_range %s[] = {\n%s\n};\n" % (name, body)


out = sys.stdout
out.write("/* pycase_tables.h: Python %d.%d's str case mappings (Unicode %s), written by\n"
          " * tools/gen_case_tables.py; do not edit. See that script for what each table is. */\n"
          % (sys.version_info[0], sys.version_info[1], unicodedata.unidata_version))
out.write("#define PYCASE_UNICODE \"%s\"\n\n" % unicodedata.unidata_version)
out.write("/* clang-format off */\n")
out.write(mapping("UPPER", str.upper) + "\n")
out.write(mapping("LOWER", lambda c: c.lower() if c != "\u03a3" else "\u03c3") + "\n")
out.write(mapping("TITLE", str.title, str.upper) + "\n")
out.write(range_table("CASED", ranges(cased)) + "\n")
out.write(range_table("CASE_IGNORABLE", ranges(ignorable)))
out.write("/* clang-format on */\n")

#!/usr/bin/env bash
# lint.sh BUILD_DIR: the house rules that a compiler does not check (docs/ARCHITECTURE.md §5).
#   1. format     every C file is as .clang-format (clang-format 14) writes it
#   2. banned     no strcpy, strcat, sprintf, vsprintf, gets, atoi, atol, atoll, atof, strtok
#   3. symbols    libmill.so exports only mill_* (the MILL_API functions); every global symbol
#                 of libmill_static.a is mill_*-prefixed
#   4. layers     no #include reaches up the layers of src/ (table below)
#   5. paths      no absolute path of this checkout (or of the home directory) in a tracked file
# Prints each problem and "lint: N problems"; exits 1 when there are any.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
problems=0
say() { echo "lint: $*"; problems=$((problems + 1)); }

mapfile -t cfiles < <(git ls-files --cached --others --exclude-standard '*.c' '*.h' |
                      grep -v '^src/task/data/clip_tables.h$' | sort -u)

# 1. format (the layout is clang-format 14's: another version formats some lines differently)
cf_version=$(clang-format --version 2>/dev/null | sed -nE 's/.*version ([0-9]+)\..*/\1/p')
if [ "$cf_version" != 14 ]; then
    say "format: needs clang-format 14 (Debian 12's; scripts/deps.sh installs it), found '${cf_version:-none}'"
    cfiles_fmt=()
else
    cfiles_fmt=("${cfiles[@]}")
fi
for f in "${cfiles_fmt[@]}"; do
    [ -f "$f" ] || continue
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || say "format: $f (run clang-format -i $f)"
done

# 2. banned functions (outside comments and strings, roughly: a call of the name)
while IFS= read -r hit; do say "banned function: $hit"; done < <(
    grep -nE '(^|[^A-Za-z0-9_])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|atof|strtok)[[:space:]]*\(' \
        "${cfiles[@]}" 2>/dev/null | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')

# 3. exported and global symbols
if [ -f "$BUILD/lib/libmill.so" ] && [ -f "$BUILD/lib/libmill_static.a" ]; then
    while IFS= read -r s; do say "libmill.so exports $s (only MILL_API mill_* functions may be)"
    done < <(nm -D --defined-only "$BUILD/lib/libmill.so" | awk '{print $3}' |
             grep -vE '^(mill_|_init$|_fini$|_edata$|_end$|__bss_start$)')
    while IFS= read -r s; do say "libmill_static.a: global symbol without the mill_ prefix: $s"
    done < <(nm -g --defined-only "$BUILD/lib/libmill_static.a" 2>/dev/null |
             awk 'NF == 3 {print $3}' | grep -v '^mill_' | sort -u)
else
    say "symbols: no $BUILD/lib/libmill.so or libmill_static.a (build first: make build)"
fi

# 4. layers: what each directory of src/ may include from src/ (the public <mill/*.h> always)
allowed() {
    case $1 in
    core) echo "core" ;;
    data) echo "core data" ;;
    model) echo "model" ;;
    task) echo "core task" ;;
    metric) echo "core metric" ;;
    out) echo "core out" ;;
    backend) echo "core data model backend" ;;
    eval) echo "core data model task metric backend out eval" ;;
    cli) echo "core data model task metric backend out eval cli" ;;
    *) echo "" ;;
    esac
}
for f in "${cfiles[@]}"; do
    case $f in src/*) ;; *) continue ;; esac
    layer=$(echo "$f" | cut -d/ -f2)
    ok=" $(allowed "$layer") "
    while IFS= read -r inc; do
        target=$(echo "$inc" | sed -E 's/^#include *[<"](\.\.\/)*([a-z_]+)\/.*/\2/')
        case $target in core | data | model | task | metric | out | backend | eval | cli) ;;
        *) continue ;; esac # <mill/...>, <sys/...> and the like
        [[ "$ok" == *" $target "* ]] || say "layers: $f includes $target/ ($layer may include: $(allowed "$layer"))"
    done < <(grep -E '^#include *[<"](\.\./)*[a-z_]+/' "$f")
done

# 5. absolute paths of this checkout and of the home directory
for dir in "$(pwd)" "${HOME:-}"; do
    [ -n "$dir" ] && [ "$dir" != / ] || continue
    while IFS= read -r hit; do say "absolute path: $hit"; done < <(
        git grep -nF "$dir/" -- ':!*.parquet' ':!*.gz' 2>/dev/null)
done

echo "lint: $problems problems"
[ "$problems" -eq 0 ]

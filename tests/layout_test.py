#!/usr/bin/env python3
"""layout_test [REPO_DIR]: the shape rules of the source tree (STYLE.md "a room holds one thing"),
checked on every ctest run. Fails, naming file and line, when

  1. a production source file (.h/.cpp, not *_test.cpp, not *_bench.cpp) has more than
     FILE_LINES_MAX lines;
  2. a function in a production .cpp file spans more than FUNCTION_LINES_MAX lines;
  3. an #include crosses the layering written in the top CMakeLists.txt (LAYERS below): a folder
     includes only its own headers, the generated schema code ("tally/..._generated.h") and the
     folders below it — tests and test harnesses too;
  4. an outside library's header is included outside the folder that owns it (OWNERS below);
  5. the fold core (the sources of add_library(tally_core ...) and the engine headers they reach)
     includes anything but engine/, the generated schema code and the standard library;
  6. a folder below node/ includes "node/...";
  6b. production code includes the shared test support (tests/support), or that support includes
     anything of the project;
  7. two production modules (foo.h + foo.cpp) include each other, directly or in a longer circle.

Files that break rule 1 or 2 today and belong to work in progress elsewhere are listed in
ALLOWED_LONG_FILES / ALLOWED_LONG_FUNCTIONS with the reason; an entry that no longer needs to be
there is reported too, so the lists only shrink.

How functions are found (a heuristic: no C++ parser). Comments, string and character literals and
preprocessor lines are blanked first. Then braces are counted: a '{' met outside any function body
opens a function when the text since the previous ';', '{' or '}' contains '(' and is neither a
namespace, nor a class/struct/union/enum head, nor an initializer ("= ..." without a lambda). The
function spans from the first line of that text (its signature) to the matching '}'. Limits:
  - a constructor whose member initializer list uses braces (`a_{x}`) is measured from its last
    brace initializer on, so it may be undercounted;
  - a function-try-block, or a class head with parentheses (`class alignas(8) X {`), is misread;
  - macros that expand to a function head are not seen as one;
  - only .cpp files are measured (inline functions in headers are not).
"""

import os
import re
import sys

FILE_LINES_MAX = 500
FUNCTION_LINES_MAX = 70

# Folder -> the folders whose headers it may include (besides its own and the generated schemas).
# Keep in step with the layering comment of the top CMakeLists.txt and README.md "Layout".
LAYERS = {
    "engine": set(),
    "lmdb": {"engine"},
    "log": {"engine", "lmdb"},
    "projections": {"engine", "lmdb", "log"},
    "submit": {"engine", "log", "projections"},
    "crypto": set(),
    "outbound": {"engine"},
    "api": {"engine", "log", "projections", "submit", "crypto", "audit"},
    "audit": {"engine", "log", "projections"},
    "ingest": {"engine", "crypto", "api"},
    "relay": {"engine", "log", "projections", "submit", "crypto", "outbound"},
    "node": {"engine", "lmdb", "log", "projections", "submit", "crypto", "outbound", "api", "audit", "ingest",
             "relay"},
    "cli": {"engine", "lmdb", "log", "projections", "submit", "crypto", "outbound", "api", "audit", "ingest",
            "relay", "node"},
    # The libFuzzer targets (README "Fuzzing"): each drives one folder's parser from outside it.
    "tests/fuzz": {"engine", "lmdb", "log", "projections", "submit", "crypto", "outbound", "api", "audit", "ingest",
                   "relay", "node", "cli"},
    # Test support every folder's tests may include (tally_testing): below everything.
    "tests/support": set(),
}
# Included only from test code (see is_test_code), from any folder; never from the product.
TEST_SUPPORT = "tests/support"
# Folders that hold no C++ (or only generated code); never included from by path.
NON_SOURCE_DIRS = {"schemas", "scripts", "tests", "build", ".git", ".ci"}
# Folders inside those that do hold C++ checked like the others; their folder name is the path.
SOURCE_SUBDIRS = ("tests/fuzz", "tests/support")

# Outside libraries: include pattern -> the paths (prefixes, relative to the repo) that may include it.
OWNERS = [
    (re.compile(r"^lmdb\.h$"), ("lmdb/", "log/journal", "projections/")),
    (re.compile(r"^(librdkafka/)?rdkafka(cpp)?\.h$"), ("log/kafka",)),
    (re.compile(r"^curl/"), ("outbound/",)),
    # engine/sha256_test.cpp checks the core's own SHA-256 against OpenSSL's, as a reference.
    (re.compile(r"^openssl/"), ("crypto/", "engine/sha256_test.cpp")),
    # tests/fuzz/http_request_fuzz.cpp feeds Beast's request parser as an api/ connection does.
    (re.compile(r"^boost/(beast|asio)([/.]|$)"), ("api/", "tests/fuzz/http_request_fuzz.cpp")),
]

# The generated schema code, and the FlatBuffers runtime it is written against.
GENERATED = re.compile(r"^(tally/[a-z_]+_generated\.h|flatbuffers/[a-z_/]+\.h)$")
# What the fold core may include in <>: the C++ standard library and a few POSIX headers.
# immintrin.h is the compiler's (the SHA extensions of engine/sha256.cpp), not a library.
SYSTEM = re.compile(r"^([a-z_0-9]+|sys/[a-z_0-9]+\.h|(unistd|fcntl|errno|immintrin)\.h)$")

# Over FILE_LINES_MAX, to be split by the work that owns them.
ALLOWED_LONG_FILES = {
}
# (file, function name as reported) over FUNCTION_LINES_MAX, to be split by the work that owns them.
ALLOWED_LONG_FUNCTIONS = {
    # These build events with the engine's event builders, which the catalogue / strong-types work
    # is changing: split them after it lands, not under it.
    ("cli/demo.cpp", "run_demo"): "to be split by the catalogue / http work (event builders change)",
    ("cli/demo_refill.cpp", "run_demo_refill"): "to be split by the catalogue / http work (event builders change)",
    ("projections/testkit.cpp", "WorkloadGenerator::org_event"): "to be split by the catalogue / http work "
                                                                 "(event builders change)",
}

# Include circles between modules that are one thing split in two (a class and its private half).
ALLOWED_CIRCLES = {
    frozenset({"projections/projector", "projections/projector_impl"}):
        "projector_impl.h is the private half of projector.h (pimpl), included only by projector*.cpp",
    frozenset({"log/journal", "log/journal_env"}):
        "journal_env.h is the journal's private environment, included only by log/journal*.cpp",
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def folder_of(rel):
    """The folder of LAYERS a file belongs to: its top folder, or one of SOURCE_SUBDIRS."""
    for sub in SOURCE_SUBDIRS:
        if rel.startswith(sub + "/"):
            return sub
    return rel.split("/", 1)[0]


def repo_files(root):
    """Every .h/.cpp under the source folders, as paths relative to root."""
    out = []
    tops = [top for top in sorted(os.listdir(root)) if not (
        top.startswith(".") or top in NON_SOURCE_DIRS or top.startswith("build"))]
    for top in tops + [sub for sub in SOURCE_SUBDIRS if os.path.isdir(os.path.join(root, sub))]:
        path = os.path.join(root, top)
        if not os.path.isdir(path):
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if d != "node_modules" and not d.startswith(".")]
            for name in filenames:
                if name.endswith((".h", ".cpp")):
                    out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(out)


def is_production(rel):
    name = os.path.basename(rel)
    return not (name.endswith("_test.cpp") or name.endswith("_bench.cpp"))


def is_test_code(rel):
    """Tests, benchmarks and test harnesses (a testing/ folder, a testkit, tests/support)."""
    name = os.path.basename(rel)
    return (not is_production(rel) or "/testing/" in "/" + rel or "testkit" in name
            or rel.startswith(TEST_SUPPORT + "/"))


def blank_code(text):
    """The text with comments, literals and preprocessor lines replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c == "#" or (line_start and c in " \t" and text[i:].lstrip(" \t").startswith("#")):
            # A preprocessor line, with its backslash continuations.
            j = i
            while j < n:
                k = text.find("\n", j)
                if k == -1:
                    k = n
                if k > 0 and text[k - 1] == "\\":
                    j = k + 1
                    continue
                break
            out.append(re.sub(r"[^\n]", " ", text[i:k]))
            i = k
            continue
        if c == "/" and text.startswith("//", i):
            k = text.find("\n", i)
            k = n if k == -1 else k
            out.append(" " * (k - i))
            i = k
            continue
        if c == "/" and text.startswith("/*", i):
            k = text.find("*/", i + 2)
            k = n if k == -1 else k + 2
            out.append(re.sub(r"[^\n]", " ", text[i:k]))
            i = k
            continue
        raw = re.match(r'R"([^(\s]{0,16})\(', text[i:i + 20]) if c == "R" and (i == 0 or not (
            text[i - 1].isalnum() or text[i - 1] == "_")) else None
        if raw:
            end = text.find(")" + raw.group(1) + '"', i)
            k = n if end == -1 else end + len(raw.group(1)) + 2
            out.append('"' + re.sub(r"[^\n]", " ", text[i + 1:k - 1]) + '"')
            i = k
            continue
        if c in "\"'":
            if c == "'" and i > 0 and (text[i - 1].isalnum()) and text[i + 1:i + 2].isalnum():
                out.append(" ")  # a digit separator: 1'000'000
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + (c if j < n else ""))
            i = j + 1
            line_start = False
            continue
        out.append(c)
        line_start = c == "\n" or (line_start and c in " \t")
        i += 1
    return "".join(out)


def functions(text):
    """(name, first line, last line) of each function body found in a .cpp file's text."""
    code = blank_code(text)
    found = []
    stack = []  # (kind, start line, name)
    stmt_start = 0
    line = 1
    for i, c in enumerate(code):
        if c == "\n":
            line += 1
        elif c == ";":
            stmt_start = i + 1
        elif c == "{":
            opener = code[stmt_start:i]
            if any(kind in ("function", "init", "inner") for kind, _, _ in stack):
                stack.append(("inner", line, ""))
            else:
                kind = opener_kind(opener)
                stripped_lead = opener[: len(opener) - len(opener.lstrip())]
                first = line - opener.count("\n") + stripped_lead.count("\n")
                stack.append((kind, first, function_name(opener) if kind == "function" else ""))
            stmt_start = i + 1
        elif c == "}":
            if stack:
                kind, first, name = stack.pop()
                if kind == "function":
                    found.append((name, first, line))
            stmt_start = i + 1
    return found


def opener_kind(opener):
    text = " ".join(opener.split())
    if re.search(r"\bnamespace\b", text) or re.match(r"^extern\b", text):
        return "namespace"
    if re.search(r"\b(class|struct|union|enum)\b", text) and "(" not in text:
        return "class"
    if "=" in text.replace("==", "").replace("!=", "").replace("<=", "").replace(">=", "").replace(
            "operator=", "") and not re.search(r"=\s*\[[^\]]*\]\s*(\(|\{|$|mutable)", text):
        if not re.search(r"\boperator\s*\S*=", text):
            return "init"
    if "(" in text:
        return "function"
    return "init"


def function_name(opener):
    text = " ".join(opener.split())
    m = re.search(r"(operator\s*[^\s(]+|[~\w:]+)\s*\(", text)
    return m.group(1) if m else text[:40]


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    problems = []
    files = repo_files(root)
    if not files:
        print(f"layout_test: no sources under {root}")
        return 2
    texts = {}
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            texts[rel] = f.read()

    check_sizes(files, texts, problems)
    check_includes(files, texts, problems)
    check_cycles(files, texts, problems)
    check_core(root, texts, problems)

    if problems:
        for p in problems:
            print(f"layout_test: {p}")
        print(f"layout_test: FAILED ({len(problems)} problems)")
        return 1
    print(f"layout_test: {len(files)} sources follow the layout rules")
    return 0


def check_sizes(files, texts, problems):
    seen_files, seen_functions = set(), set()
    for rel in files:
        if not is_production(rel):
            continue
        lines = texts[rel].count("\n") + (0 if texts[rel].endswith("\n") or not texts[rel] else 1)
        if lines > FILE_LINES_MAX:
            if rel in ALLOWED_LONG_FILES:
                seen_files.add(rel)
            else:
                problems.append(f"{rel}: {lines} lines (at most {FILE_LINES_MAX}; split it)")
        if not rel.endswith(".cpp"):
            continue
        for name, first, last in functions(texts[rel]):
            length = last - first + 1
            if length <= FUNCTION_LINES_MAX:
                continue
            if (rel, name) in ALLOWED_LONG_FUNCTIONS:
                seen_functions.add((rel, name))
                continue
            problems.append(f"{rel}:{first}: function {name} spans {length} lines "
                            f"(at most {FUNCTION_LINES_MAX}; split it)")
    for rel in sorted(set(ALLOWED_LONG_FILES) - seen_files):
        problems.append(f"{rel}: on ALLOWED_LONG_FILES but not over {FILE_LINES_MAX} lines (or gone): "
                        "remove it from the list")
    for rel, name in sorted(set(ALLOWED_LONG_FUNCTIONS) - seen_functions):
        problems.append(f"{rel}: function {name} on ALLOWED_LONG_FUNCTIONS but not over "
                        f"{FUNCTION_LINES_MAX} lines (or gone): remove it from the list")


def includes(text):
    for number, line in enumerate(text.split("\n"), 1):
        m = INCLUDE.match(line)
        if m:
            yield number, m.group(1), m.group(2)


def check_includes(files, texts, problems):
    for rel in files:
        folder = folder_of(rel)
        for number, bracket, target in includes(texts[rel]):
            where = f"{rel}:{number}: #include {bracket}{target}{'>' if bracket == '<' else chr(34)}"
            for pattern, owners in OWNERS:
                if pattern.search(target) and not rel.startswith(owners):
                    problems.append(f"{where}: only {', '.join(owners)} may include this library")
            if bracket != '"' or GENERATED.match(target):
                continue
            target_folder = folder_of(target) if "/" in target else folder
            if target.startswith(TEST_SUPPORT + "/"):
                if not is_test_code(rel):
                    problems.append(f"{where}: {TEST_SUPPORT}/ is test support: the product never includes it")
                continue
            if target_folder == folder:
                continue
            if target_folder == "node" and "node" not in LAYERS.get(folder, set()):
                problems.append(f"{where}: {folder}/ is below node/ and must not include it")
                continue
            allowed = LAYERS.get(folder)
            if allowed is None:
                problems.append(f"{where}: folder {folder}/ is not in the layering (tests/layout_test.py LAYERS)")
            elif target_folder not in allowed:
                problems.append(f"{where}: {folder}/ may include only {sorted(allowed) or 'itself'} "
                                "(layering in the top CMakeLists.txt)")


def module_of(rel):
    """foo/bar.h and foo/bar.cpp are one module, foo/bar."""
    return rel.rsplit(".", 1)[0]


def check_cycles(files, texts, problems):
    """No two production modules include each other, directly or through others (header or source)."""
    modules = {module_of(rel) for rel in files if is_production(rel)}
    edges = {m: set() for m in modules}
    for rel in files:
        if not is_production(rel):
            continue
        folder = folder_of(rel)
        here = os.path.dirname(rel)
        for _, bracket, target in includes(texts[rel]):
            if bracket != '"':
                continue
            path = target if "/" in target else f"{here}/{target}"
            if path.split("/", 1)[0] not in LAYERS and "/" not in target:
                path = f"{folder}/{target}"
            other = module_of(path)
            if other in modules and other != module_of(rel):
                edges[module_of(rel)].add(other)
    # Tarjan's strongly connected components: every component of more than one module is a circle.
    index, low, on_stack, stack, counter = {}, {}, set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 and frozenset(component) in ALLOWED_CIRCLES:
                seen_circles.add(frozenset(component))
            elif len(component) > 1:
                problems.append("include circle between " + ", ".join(sorted(component)) +
                                " (each includes the other, through its .h or .cpp): move what both need below both")

    seen_circles = set()
    sys.setrecursionlimit(10000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    for circle in ALLOWED_CIRCLES:
        if circle not in seen_circles:
            problems.append("ALLOWED_CIRCLES lists " + ", ".join(sorted(circle)) +
                            ", which is no longer a circle: remove it from the list")


def core_sources(root, texts):
    """The .cpp files of add_library(tally_core ...) and every engine header they reach."""
    try:
        with open(os.path.join(root, "engine", "CMakeLists.txt"), encoding="utf-8") as f:
            cmake = f.read()
    except OSError:
        return None
    m = re.search(r"add_library\(\s*tally_core\b([^)]*)\)", cmake)
    if not m:
        return None
    pending = ["engine/" + name for name in re.findall(r"[\w./-]+\.cpp", m.group(1))]
    seen = set()
    while pending:
        rel = pending.pop()
        if rel in seen or rel not in texts:
            continue
        seen.add(rel)
        for _, bracket, target in includes(texts[rel]):
            if bracket == '"' and "/" not in target:
                target = "engine/" + target  # relative to the including file
            if bracket == '"' and target.startswith("engine/"):
                pending.append(target)
    return sorted(seen)


def check_core(root, texts, problems):
    core = core_sources(root, texts)
    if not core:
        problems.append("engine/CMakeLists.txt: cannot find the sources of add_library(tally_core ...)")
        return
    for rel in core:
        for number, bracket, target in includes(texts[rel]):
            ok = (bracket == '"' and ("/" not in target or target.startswith("engine/") or GENERATED.match(target))) or (
                bracket == "<" and SYSTEM.match(target))
            if not ok:
                problems.append(f"{rel}:{number}: the fold core includes {target}: only engine/, the generated "
                                "schema code and the standard library")


if __name__ == "__main__":
    sys.exit(main())

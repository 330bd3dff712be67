"""The ``calcinosis-kg`` command: build, validate, query and serve the knowledge graph.

Run ``calcinosis-kg --help`` or ``calcinosis-kg COMMAND --help`` for the details of each command.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from calcinosis_kg.errors import KGError
from calcinosis_kg.version import VersionAction

if TYPE_CHECKING:
    from rdflib import Graph

DESCRIPTION = """\
Build, validate, query and serve the calcinosis cutis knowledge graph.

commands:
  build      compile ontology + curated knowledge, validate it (SHACL, violation queries, HermiT)
             and write the release artifacts (Turtle, N-Triples, JSON-LD, OWL, N-Quads, SSSOM, FHIR ConceptMap,
             code-systems table, schema, summary) to build/
  validate   run every check, including determinism (two builds must be byte-identical)
  query      run a canned query by name, or any .rq file, as a table or in a SPARQL result format
  lookup     find the entities mapped to a code (SCTID:6595006, ICD10CM:L94.2, a code IRI, ...)
  codes      list every code an entity is mapped to
  serve      serve the graph over HTTP: SPARQL 1.1 endpoint at /sparql, health at /health
  publish    load the release into a SPARQL store (Graph Store Protocol PUT of a named graph), check the count
"""

REASONER_CHOICES = ("always", "if-java", "never")
"""When ``build`` runs the HermiT consistency check: always (fails without Java), when Java is found, never."""

Command = Callable[[argparse.Namespace], int]
"""What a sub-command runs, with the parsed arguments; returns the exit status."""


def _load_graph(data: list[Path] | None) -> Graph:
    """The built graph from ``data`` files, or the release N-Triples (built first if missing)."""
    from rdflib import Graph  # here, not with the module: ``serve`` keeps some of rdflib's imports out

    from calcinosis_kg.graph.build import artifact_path, build_graph, write_artifacts
    from calcinosis_kg.ontology import bind_prefixes

    if data:
        graph = bind_prefixes(Graph())
        for path in data:
            if not path.is_file():
                raise KGError(f"no such data file: {path}")
            graph.parse(path)
        return graph
    nt = artifact_path("nt")
    if not nt.is_file():
        write_artifacts(build_graph())
    return bind_prefixes(Graph()).parse(nt, format="nt")


def cmd_build(args: argparse.Namespace) -> int:
    """Build, validate and write the release artifacts.

    Compile ontology/calcinosis.ttl, graph/knowledge/*.yaml and the HPO slice (graph/imports/hpo/) into one graph,
    validate it, and write calcinosis-kg.{ttl,nt,jsonld,owl} (the union) and calcinosis-kg.nq (the named graphs
    apart), its mappings as calcinosis-kg.sssom.tsv and calcinosis-kg-to-snomedct.conceptmap.json,
    code-systems.json (the code systems of the mappings, computed from the Bioregistry; the server and the lookup
    commands load it instead of the Bioregistry), schema.md and summary.{json,md}; and the serving bundle
    (bundle/: the graph in an Oxigraph store on disk and the server's start-up indexes, so that a server starts
    without reading the data; --no-bundle leaves it out).
    """
    from calcinosis_kg.graph.build import build_graph, summarise, write_artifacts
    from calcinosis_kg.graph.validate import validate_graph
    from calcinosis_kg.paths import build_dir

    started = time.perf_counter()
    graph = build_graph()
    reasoner = _reasoner_wanted("never" if args.no_reasoner else args.reasoner)
    passed = [] if args.no_validate else validate_graph(graph, reasoner=reasoner)
    written = write_artifacts(graph, args.out)
    if not args.no_bundle:
        written.append(_write_bundle(args.out or build_dir()))
    summary = summarise(graph)
    elapsed = time.perf_counter() - started
    for check in passed:
        print(f"passed: {check}")
    for path in written:
        print(f"wrote {path}")
    print(
        f"built {summary.triples} triples, {summary.entities} entities, {summary.assertions} sourced assertions, "
        f"{summary.sources} sources in {elapsed:.2f} s"
    )
    return 0


def java_found() -> bool:
    """Whether the Java that owlready2 runs HermiT with (``owlready2.JAVA_EXE``, ``java`` on PATH) is there."""
    import owlready2

    return shutil.which(owlready2.JAVA_EXE) is not None


def _reasoner_wanted(choice: str) -> bool:
    """Whether to run HermiT for ``--reasoner choice``; says so in one line when ``if-java`` finds no Java."""
    if choice != "if-java":
        return choice == "always"
    if java_found():
        return True
    print(
        "skipped: OWL consistency (HermiT needs Java, which is not on PATH): to run it, install a JRE "
        "(apt-get install default-jre-headless) and run `make validate`"
    )
    return False


def _write_bundle(out: Path) -> Path:
    """The serving bundle of the built dataset, ``out/bundle`` (:mod:`calcinosis_kg.server.resources.bundle`), with
    the union of its graphs as the default graph: as the server serves it when ``KG_DATA`` names no files."""
    from calcinosis_kg.server.resources.bundle import BUILT_BUNDLE, write_bundle
    from calcinosis_kg.server.services import BUILT_GRAPH

    folder = out / BUILT_BUNDLE
    write_bundle((out / BUILT_GRAPH,), folder, union_default_graph=True)
    return folder


def cmd_validate(args: argparse.Namespace) -> int:
    """Run every check, including determinism.

    Run the SHACL shapes, the *-violation.rq queries, the HermiT consistency check and the determinism check
    (two builds in separate processes must be byte-identical). Exits non-zero naming the entity and rule on the
    first failing check.
    """
    from calcinosis_kg.graph.build import build_graph
    from calcinosis_kg.graph.validate import check_determinism, validate_graph

    started = time.perf_counter()
    for check in validate_graph(build_graph(), reasoner=not args.no_reasoner):
        print(f"passed: {check}")
    if not args.no_determinism:
        check_determinism()
        print("passed: determinism (two builds byte-identical)")
    print(f"validation passed in {time.perf_counter() - started:.2f} s")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    """Run a canned query or a .rq file.

    Run a canned query from queries/ by name (see --list), or any .rq file, against the built graph (or --data
    files).
    """
    from calcinosis_kg.queries.catalog import get_query, load_catalog, load_query
    from calcinosis_kg.queries.results import serialize

    catalog = load_catalog()
    if args.list or not args.query:
        for name, query in catalog.items():
            params = ", ".join(f"{p.name}:{p.type}" for p in query.params)
            print(f"{name}{f' ({params})' if params else ''}\n    {query.summary}")
        return 0
    path = Path(args.query)
    query = load_query(path) if path.suffix == ".rq" and path.is_file() else get_query(args.query, catalog)
    values = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise KGError(f"--param takes NAME=VALUE, got {item!r}")
        values[name] = value
    result = query.run(_load_graph(args.data), values)
    sys.stdout.write(serialize(result, args.format))
    return 0


def cmd_lookup(args: argparse.Namespace) -> int:
    """Find the entities mapped to a code (SNOMED CT, ICD-10-CM, ...).

    Resolve a code to the graph's entities. Accepted forms: 6595006 (SNOMED CT), SCTID:6595006, snomed:6595006,
    http://snomed.info/id/6595006, ICD10CM:L94.2, MONDO:0002123 and the IRIs of every supported code system.
    Prints entity, label, mapping predicate, code and the code's term, tab-separated.
    """
    from calcinosis_kg.graph.lookup import entities_for_code

    for match in entities_for_code(_load_graph(args.data), args.code):
        print(f"{match.subject}\t{match.subject_label}\t{match.predicate}\t{match.object_id}\t{match.object_label}")
    return 0


def cmd_codes(args: argparse.Namespace) -> int:
    """List every code an entity is mapped to.

    List the codes of an entity (IRI, cc:CURIE or local id such as acne): code, mapping predicate, the code's
    term and its IRI, tab-separated.
    """
    from calcinosis_kg.graph.lookup import codes_for_entity

    for code in codes_for_entity(_load_graph(args.data), args.entity):
        print(f"{code.object_id}\t{code.predicate}\t{code.object_label}\t{code.object}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the graph over HTTP (SPARQL endpoint).

    Serve the built graph: SPARQL 1.1 Protocol endpoint at /sparql and /health. The embedded server by default;
    --production runs granian with worker processes. KG_DATA=file[:file...] serves other RDF files instead.
    """
    gc.disable()  # no cycle collection while the server's modules load: serve() turns it back on
    from calcinosis_kg.server import serve

    serve(args.host, args.port, production=args.production, workers=args.workers)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Load the release into a SPARQL store and check its triple count.

    PUT the release (build/calcinosis-kg.nt, or --data) into a named graph of a SPARQL store with the SPARQL 1.1
    Graph Store HTTP Protocol (a PUT replaces that graph), then count the graph's triples with a query: exits
    non-zero when the store refuses the file or holds another number of triples. A dataset (--data
    build/calcinosis-kg.nq) is sent graph by graph: its unnamed graph into that graph, each named graph into its
    own name (served as the embedded engine serves the build by a store whose default graph is the union). Then
    write the replicas' bundle (their start-up indexes, computed from the file as the store holds it; --bundle)
    and mark the store with the data version it holds (an empty graph), so that a replica on KG_ENGINE=sparql
    starts without reading the store.
    """
    from calcinosis_kg.graph.build import artifact_path
    from calcinosis_kg.graph.publish import PublishError, publish, publish_bundle, read_release, unmark
    from calcinosis_kg.server.engines.published import default_folder

    path = args.data or artifact_path("nt")
    if args.data is None and not path.is_file():
        raise PublishError(f"no release at {path}: run `calcinosis-kg build` (or `make build`) first, or give --data")
    started = time.perf_counter()
    release = read_release(path)
    graph = args.graph or release.version_iri
    if graph is None:
        raise PublishError(f"{path} states no owl:versionIRI of the ontology: name the graph with --graph")
    unmark(args.store, args.graph_store, timeout=args.timeout)
    done = publish(release, args.store, graph, args.graph_store, args.timeout)
    for name, triples in done.named_graphs:
        print(f"published {triples} triples of {path} into its named graph {name} (count checked)")
    print(
        f"published {done.triples} triples of {path} into graph {done.graph} of {done.graph_store} "
        f"(HTTP {done.status}, count checked) in {time.perf_counter() - started:.2f} s"
    )
    if args.bundle != "none":
        folder = default_folder() if args.bundle is None else Path(args.bundle)
        started = time.perf_counter()
        marker = publish_bundle(release, args.store, done, folder, args.timeout)
        elapsed = time.perf_counter() - started
        print(f"wrote the replicas' bundle in {folder}, marked the store {marker} in {elapsed:.2f} s")
    return 0


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], run: Command) -> argparse.ArgumentParser:
    """The sub-command ``run`` (``cmd_NAME``) carries out: its docstring's first line is the help, the rest the
    description."""
    summary, _, details = inspect.cleandoc(run.__doc__ or "").partition("\n\n")
    command = sub.add_parser(run.__name__.removeprefix("cmd_"), help=summary.removesuffix("."), description=details)
    command.set_defaults(func=run)
    return command


def make_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per pipeline step."""
    from calcinosis_kg.queries.results import FORMAT_NAMES

    parser = argparse.ArgumentParser(
        prog="calcinosis-kg", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = _command(sub, cmd_build)
    build.add_argument("--out", type=Path, default=None, help="output folder (default: build/ or $KG_BUILD_DIR)")
    build.add_argument(
        "--no-bundle", action="store_true", help="do not write the serving bundle (build/bundle: store and indexes)"
    )
    build.add_argument("--no-validate", action="store_true", help="skip all validation (used by the determinism check)")
    build.add_argument(
        "--reasoner",
        choices=REASONER_CHOICES,
        default="always",
        help="when to run the HermiT consistency check (needs Java): always (default), if-java (skip it with a "
        "note where Java is missing, as `make serve` does), never",
    )
    build.add_argument("--no-reasoner", action="store_true", help="the same as --reasoner never")

    validate = _command(sub, cmd_validate)
    validate.add_argument("--no-reasoner", action="store_true", help="skip the HermiT consistency check")
    validate.add_argument("--no-determinism", action="store_true", help="skip the two-build comparison")

    query = _command(sub, cmd_query)
    query.add_argument("query", nargs="?", help="canned query name, or path to a .rq file")
    query.add_argument("--list", action="store_true", help="list the canned queries with their parameters")
    query.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a declared parameter value (repeatable); bound, never pasted into the query text",
    )
    query.add_argument(
        "--format",
        "-f",
        choices=FORMAT_NAMES,
        default="table",
        help="table (default); json, xml, csv, tsv for SELECT/ASK; turtle, ntriples, jsonld, "
        "rdfxml for CONSTRUCT/DESCRIBE",
    )
    query.add_argument("--data", type=Path, action="append", help="RDF file(s) to query instead of the built graph")

    lookup = _command(sub, cmd_lookup)
    lookup.add_argument("code", help="the code, as a CURIE, an IRI or a bare SNOMED CT id")
    lookup.add_argument("--data", type=Path, action="append", help="RDF file(s) instead of the built graph")

    codes = _command(sub, cmd_codes)
    codes.add_argument("entity", help="the entity: IRI, cc:local-id or local id")
    codes.add_argument("--data", type=Path, action="append", help="RDF file(s) instead of the built graph")

    serve = _command(sub, cmd_serve)
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--production", action="store_true", help="run granian with worker processes")
    serve.add_argument("--workers", type=int, default=None, help="processes evaluating queries (default: the cores)")

    publish = _command(sub, cmd_publish)
    publish.add_argument("--store", required=True, metavar="URL", help="the store's SPARQL query endpoint")
    publish.add_argument(
        "--graph",
        metavar="IRI",
        help="the named graph to replace (default: the ontology's owl:versionIRI, one graph per release); "
        "'default' for the store's default graph",
    )
    publish.add_argument(
        "--graph-store",
        metavar="URL",
        help="the store's Graph Store Protocol endpoint (default: --store with its last segment 'query' "
        "replaced by 'store', as Oxigraph names them)",
    )
    publish.add_argument(
        "--data",
        type=Path,
        help="the RDF file to publish (default: build/calcinosis-kg.nt; build/calcinosis-kg.nq: the dataset)",
    )
    publish.add_argument("--timeout", type=float, default=600.0, help="seconds the store may take (default 600)")
    publish.add_argument(
        "--bundle",
        metavar="FOLDER",
        help="where to write the replicas' bundle of the store (their start-up indexes; default build/store-bundle, "
        "which KG_BUNDLE=auto finds); 'none' to write none and leave the store unmarked",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; user errors print a message and exit with status 2."""
    if list(sys.argv[1:] if argv is None else argv)[:1] == ["serve"]:
        from calcinosis_kg.server import keep_out_unserved_modules, return_freed_pages_at_once

        keep_out_unserved_modules()  # before the parser's imports load rdflib
        return_freed_pages_at_once()  # before granian's allocator starts
    args = make_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KGError as exc:
        print(f"calcinosis-kg {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

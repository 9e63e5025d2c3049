"""`skyseal serve` and `skyseal keys create/list/revoke`: the HTTP service and its API keys."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Optional

import typer

from .cli import EXIT_ERROR, _print_json, _settings, app, err

keys_app = typer.Typer(help="Create, list and revoke the service's API keys (stored hashed under <home>/service).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command(epilog="Example: skyseal serve --port 8000   (then open http://127.0.0.1:8000/ and paste a key)")
def serve(
    ctx: typer.Context,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: service.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: service.port, 8000).")] = None,
) -> None:
    """Run the HTTP service: generate jobs, detect, verify, moderate, ledger, metrics and the web page."""
    import uvicorn

    from .service import create_app

    settings = _settings(ctx)
    cfg = settings.service
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("skyseal.service.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
    application = create_app(settings)
    err.print(f"skyseal service on http://{host or cfg.host}:{port or cfg.port}/ (home {settings.home})")
    # uvicorn's own access log prints raw paths and query strings; the service writes its own, structured one.
    uvicorn.run(application, host=host or cfg.host, port=port if port is not None else cfg.port, access_log=False,
                log_level="warning", server_header=False)


@keys_app.command("create", epilog="Example: skyseal keys create analyst --scope detect --scope audit --rate 120")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    scope: Annotated[list[str], typer.Option("--scope", "-s", help="generate, detect, audit or admin; repeat for several.")],
    rate: Annotated[Optional[int], typer.Option(help="Requests per minute (default: service.default_rate_per_minute).")] = None,
) -> None:
    """Create an API key; it is printed once, on stdout, and stored only as a hash."""
    from .service.context import service_db
    from .service.keys import KeyStore, KeyStoreError

    settings = _settings(ctx)
    with KeyStore(service_db(settings)) as store:
        try:
            key, record = store.create(name, scope, rate)
        except KeyStoreError as exc:
            err.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None
    _print_json({"key": key, **record.info().model_dump()})
    err.print(f"created key {record.id} for {name!r}: copy it now, it is not shown again")


@keys_app.command("list", epilog="Example: skyseal keys list")
def keys_list(ctx: typer.Context) -> None:
    """List API keys (ids, names, scopes, rates, revocation; never the keys)."""
    from .service.context import service_db
    from .service.keys import KeyStore

    with KeyStore(service_db(_settings(ctx))) as store:
        _print_json([k.info().model_dump() for k in store.list()])


@keys_app.command("revoke", epilog="Example: skyseal keys revoke 3f9a0c1b2d4e")
def keys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="The key's id, from `skyseal keys list`.")]) -> None:
    """Revoke an API key: requests with it get 401 from then on."""
    from .service.context import service_db
    from .service.keys import KeyStore, KeyStoreError

    with KeyStore(service_db(_settings(ctx))) as store:
        try:
            record = store.revoke(key_id)
        except KeyStoreError as exc:
            err.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_ERROR) from None
    _print_json(record.info().model_dump())
    err.print(f"revoked key {record.id}")



"""Run the audit notebooks with papermill and export them as self-contained HTML.

The notebooks read plain files (the tidy results, the reference distribution)
and write their tables (CSV/JSON) and figures (PNG) next to the executed copy,
so the summary notebook and scripts can use them without re-running anything.

Papermill starts a Jupyter kernel by name; a stale or foreign "python3"
kernelspec on the machine would run the audit under another interpreter with
other packages.  ``_kernel_of_this_python`` therefore registers, for the
duration of a run, a private kernelspec whose argv is *this* interpreter.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).with_name("notebooks")
KERNEL_NAME = "skyseal-audit"

# Run order matters: the summary reads what the first two wrote.
NOTEBOOKS: dict[str, str] = {
    "prompt_filter": "prompt_filter_fairness.ipynb",
    "representation": "output_representation.ipynb",
    "summary": "summary_report.ipynb",
}


@contextlib.contextmanager
def _kernel_of_this_python() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="skyseal-kernel-") as root:
        spec_dir = Path(root) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.log_level=ERROR"],
                "display_name": "Skyseal audit (this Python)", "language": "python",
                "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}}
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        old = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = root + (os.pathsep + old if old else "")
        try:
            yield KERNEL_NAME
        finally:
            if old is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = old


def execute_notebook(name: str, parameters: dict, out_dir: str | Path, *, timeout_s: int = 600) -> Path:
    """Execute bundled notebook ``name`` (a key of NOTEBOOKS) with ``parameters``; returns the executed copy."""
    import papermill as pm

    if name not in NOTEBOOKS:
        raise KeyError(f"unknown audit notebook {name!r} (have: {', '.join(NOTEBOOKS)})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / NOTEBOOKS[name]
    tmp = out_dir / f".{target.name}.tmp.ipynb"
    with _kernel_of_this_python() as kernel:
        pm.execute_notebook(str(NOTEBOOK_DIR / NOTEBOOKS[name]), str(tmp), parameters={**parameters, "out_dir": str(out_dir)},
                            kernel_name=kernel, cwd=str(out_dir), progress_bar=False, execution_timeout=timeout_s)
    os.replace(tmp, target)
    return target


def export_html(notebook: str | Path, html: str | Path | None = None, *, show_code: bool = False) -> Path:
    """A single HTML file with every figure embedded (no side files), code hidden unless asked."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    html = Path(html) if html else notebook.with_suffix(".html")
    exporter = HTMLExporter(embed_images=True, exclude_input=not show_code, exclude_input_prompt=True,
                            exclude_output_prompt=True, extra_template_basedirs=[str(NOTEBOOK_DIR / "templates")],
                            template_name="self_contained")
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    tmp = html.with_name(f".{html.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, html)
    return html


def image_outputs(notebook: str | Path) -> int:
    """How many PNG figures an executed notebook holds."""
    import nbformat

    nb = nbformat.read(Path(notebook), as_version=4)
    return sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for out in cell.get("outputs", []))


__all__ = ["KERNEL_NAME", "NOTEBOOKS", "NOTEBOOK_DIR", "execute_notebook", "export_html", "image_outputs"]

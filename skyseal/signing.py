"""Which key signs, and which roots are trusted, from the settings."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from provenance import CallbackSigner, PemSigner, Signer, ensure_dev_ca

from .config import Settings
from .errors import ConfigError


@dataclass(frozen=True)
class SigningSetup:
    signer: Signer
    trust_anchors_pem: str | None  # concatenated PEM roots, None = trust nothing


def trust_anchors(settings: Settings) -> str | None:
    """The configured anchors, plus the development CA root when it exists."""
    pems: list[str] = []
    for path in settings.provenance.trust_anchors:
        try:
            pems.append(path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read trust anchor {path}: {exc}") from None
    dev_root = settings.dev_ca_dir / "root.pem"
    if dev_root.is_file():
        pems.append(dev_root.read_text(encoding="ascii"))
    return "\n".join(pems) or None


def signing_setup(settings: Settings) -> SigningSetup:
    cfg = settings.provenance
    if cfg.signer_callback:
        signer = _callback_signer(settings)
    elif settings.uses_dev_ca:
        ca = ensure_dev_ca(settings.dev_ca_dir)
        signer = PemSigner(ca.signer_chain, ca.signer_key, "es256", cfg.tsa_url)
    else:
        if cfg.signer_key is None:
            raise ConfigError("provenance.signer_chain is set but provenance.signer_key is not")
        signer = PemSigner(cfg.signer_chain, cfg.signer_key, cfg.signing_algorithm, cfg.tsa_url)
    return SigningSetup(signer=signer, trust_anchors_pem=trust_anchors(settings))


def _callback_signer(settings: Settings) -> CallbackSigner:
    """A signer whose key stays in a KMS/HSM, reached through ``provenance.signer_callback``."""
    cfg = settings.provenance
    if cfg.signer_chain is None:
        raise ConfigError("provenance.signer_callback needs provenance.signer_chain (the signer's certificate chain)")
    if cfg.signer_key is not None:
        raise ConfigError("set provenance.signer_callback or provenance.signer_key, not both")
    module_name, _, func_name = cfg.signer_callback.partition(":")
    try:
        sign = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"provenance.signer_callback {cfg.signer_callback!r} cannot be loaded: {type(exc).__name__}") from None
    if not callable(sign):
        raise ConfigError(f"provenance.signer_callback {cfg.signer_callback!r} is not callable")
    try:
        chain = cfg.signer_chain.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read provenance.signer_chain {cfg.signer_chain}: {exc}") from None
    return CallbackSigner(sign, chain, cfg.signing_algorithm, cfg.tsa_url)

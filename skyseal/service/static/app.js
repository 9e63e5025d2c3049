// The Skyseal page: every value from the server is set with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "skyseal-api-key";

const LABELS = {
  generated_here_intact: ["ok", "Made here, unchanged",
    "This service generated the file, and its signed Content Credentials still match every byte."],
  generated_here_credentials_stripped_or_reencoded: ["warn", "Made here, credentials removed or re-encoded",
    "This service generated the content, but the file is not the one it delivered: its credentials were stripped or it was re-encoded."],
  generated_here_tampered: ["bad", "Made here, then altered",
    "This service generated the file, but its signed manifest no longer matches the content: someone changed it after signing."],
  other_issuer_claims_ai_generation: ["info", "Another issuer says it is AI-generated",
    "Valid Content Credentials from another issuer declare this file AI-generated. This service did not make it."],
  no_evidence_found: ["none", "No provenance evidence found",
    "No credentials, watermark or ledger record point to an origin. This is not proof that the file is authentic."],
};

function apiKey() { return $("api-key").value.trim(); }

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {}, { "X-API-Key": apiKey() });
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { const body = await response.json(); if (body.message) message = body.message; } catch (_) { /* not JSON */ }
    const retry = response.headers.get("Retry-After");
    throw new Error(retry ? `${message} (retry in ${retry} s)` : message);
  }
  return response;
}

function setFacts(dl, rows) {
  dl.replaceChildren();
  for (const [name, value, mono] of rows) {
    if (value === null || value === undefined || value === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    if (mono) dd.className = "mono";
    dl.append(dt, dd);
  }
}

function when(iso) {
  if (!iso) return null;
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : `${t.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function setPill(el, tone, text) {
  el.className = `pill ${tone}`;
  el.textContent = text;
}

// --- generate -------------------------------------------------------------------------------

let lastVideoBlob = null;

async function generate(event) {
  event.preventDefault();
  showError("");
  const button = $("generate-btn");
  button.disabled = true;
  const body = { prompt: $("prompt").value };
  const seed = $("seed").value.trim();
  if (seed !== "") body.seed = Number(seed);
  $("job").hidden = false;
  $("job-video").hidden = true;
  $("job-download").hidden = true;
  $("job-check").hidden = true;
  $("job-facts").replaceChildren();
  setPill($("job-state"), "none", "sending");
  $("job-message").textContent = "";
  try {
    const accepted = await (await api("/v1/generate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    })).json();
    await watchJob(accepted.url);
  } catch (err) {
    setPill($("job-state"), "bad", "error");
    showError(err.message);
  } finally {
    button.disabled = false;
  }
}

const JOB_TONES = { queued: "none", running: "info", delivered: "ok", held_for_review: "warn", blocked: "bad", failed: "bad" };
const JOB_WORDS = {
  queued: "Waiting in the queue…", running: "Generating, checking, watermarking and signing…",
  delivered: "Delivered: watermarked, signed and recorded in the ledger.",
  held_for_review: "Held for a person to review before delivery.", blocked: "Blocked by the safety policy.",
  failed: "Generation failed.",
};

async function watchJob(url) {
  for (;;) {
    const job = await (await api(url)).json();
    setPill($("job-state"), JOB_TONES[job.status] || "none", job.status.replaceAll("_", " "));
    $("job-message").textContent = JOB_WORDS[job.status] + (job.reason ? ` ${job.reason}` : "");
    setFacts($("job-facts"), [
      ["job", job.id, true], ["seed", job.seed], ["payload", job.payload, true],
      ["C2PA", job.manifest ? `${job.manifest.state}, issuer ${job.manifest.issuer || "?"}` : null],
      ["model", job.model_version], ["sha256", job.sha256, true],
    ]);
    if (!["queued", "running"].includes(job.status)) {
      if (job.video_url) await showVideo(job);
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
}

async function showVideo(job) {
  const blob = await (await api(job.video_url)).blob();
  lastVideoBlob = new File([blob], `skyseal-${job.id}.mp4`, { type: "video/mp4" });
  const url = URL.createObjectURL(blob);
  const video = $("job-video");
  video.src = url;
  video.hidden = false;
  const link = $("job-download");
  link.href = url;
  link.download = lastVideoBlob.name;
  link.hidden = false;
  $("job-check").hidden = false;
}

// --- detect ---------------------------------------------------------------------------------

async function detect(file) {
  showError("");
  $("verdict").hidden = true;
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const verdict = await (await api("/v1/detect", { method: "POST", body: form })).json();
    renderVerdict(verdict);
  } catch (err) {
    showError(`Could not check ${file.name}: ${err.message}`);
  }
}

function renderVerdict(v) {
  const [tone, headline, explainer] = LABELS[v.label] || ["none", v.label, ""];
  $("verdict-banner").className = `banner ${tone}`;
  $("verdict-headline").textContent = headline;
  $("verdict-explainer").textContent = explainer;
  $("verdict-label").textContent = `verdict: ${v.label}`;

  const c = v.c2pa;
  const c2paTone = { Trusted: "ok", Valid: "info", Invalid: "bad", absent: "none", unsupported: "none" }[c.state] || "none";
  const c2paWords = { Trusted: "signed, trusted issuer", Valid: "signed, issuer not trusted here", Invalid: "present but invalid",
    absent: "none in the file", unsupported: "cannot be read in this format" };
  const card = (id) => [$(id).querySelector(".pill"), $(id).querySelector("dl")];
  let [pill, dl] = card("card-c2pa");
  setPill(pill, c2paTone, c2paWords[c.state] || c.state);
  setFacts(dl, [
    ["issuer", c.issuer], ["signed by", c.common_name], ["made with", c.claim_generator],
    ["source", c.digital_source_type ? c.digital_source_type.split("/").pop() : null],
    ["failed checks", (c.failures || []).join(", ")], ["bound payload", c.watermark_payload, true],
  ]);

  const w = v.watermark;
  [pill, dl] = card("card-watermark");
  setPill(pill, w.found ? "ok" : "none", w.found ? "found" : "not found");
  setFacts(dl, [
    ["payload", w.payload, true], ["confidence", w.found ? `${Math.round(w.confidence * 100)}%` : null],
    ["chance if unmarked", w.found ? `p = ${Number(w.p_value).toExponential(1)}` : null],
    ["frames checked", w.frames_checked], ["method", w.algorithm],
  ]);

  const l = v.ledger;
  [pill, dl] = card("card-ledger");
  const ledgerWords = { sha256: "exact file on record", payload: "generation on record", manifest_payload: "generation on record",
    perceptual: "same frames on record", none: "no record" };
  setPill(pill, { sha256: "ok", none: "none" }[l.kind] || "warn", ledgerWords[l.kind] || l.kind);
  setFacts(dl, [["generation", l.payload, true], ["model", l.model_version], ["created", when(l.created_at)]]);

  const list = $("verdict-evidence");
  list.replaceChildren(...v.evidence.map((e) => {
    const li = document.createElement("li");
    li.textContent = e.detail + (e.supports ? " — the verdict rests on this" : "");
    return li;
  }));
  setFacts($("verdict-file"), [
    ["file", v.file], ["type", v.content_type], ["sha256", v.sha256, true],
    ["frames read", v.media.frames_read], ["size", `${v.media.width}×${v.media.height} at ${v.media.fps} fps`],
  ]);
  $("verdict").hidden = false;
}

// --- wiring ---------------------------------------------------------------------------------

function init() {
  const key = $("api-key");
  key.value = sessionStorage.getItem(KEY_STORE) || "";
  key.addEventListener("change", () => sessionStorage.setItem(KEY_STORE, key.value.trim()));
  $("generate-form").addEventListener("submit", generate);
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) detect(e.target.files[0]); });
  $("job-check").addEventListener("click", () => { if (lastVideoBlob) detect(lastVideoBlob); });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) detect(e.dataTransfer.files[0]);
  });
}

document.addEventListener("DOMContentLoaded", init);

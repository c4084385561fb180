"""The review page: one self-contained HTML file (inline CSS and JS, no network) the local server serves."""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>onelazy review: __DATASET__</title>
<style nonce="__NONCE__">
html,body{margin:0;height:100%;background:#000;color:#ddd;font:14px system-ui,sans-serif}
#bar{position:fixed;top:0;left:0;right:0;padding:6px 10px;background:rgba(0,0,0,.7);
  display:flex;gap:16px;z-index:2}
#bar .help{color:#888;margin-left:auto}
#single{height:100%;display:flex;flex-direction:column;align-items:center;justify-content:center}
#main{max-width:100vw;max-height:calc(100vh - 90px);object-fit:contain}
#caption{padding:8px 14px;max-width:90vw;text-align:center;min-height:1.2em}
#grid{display:none;padding:40px 10px 10px;flex-wrap:wrap;gap:6px}
#grid figure{margin:0;width:160px;cursor:pointer}
#grid img{width:160px;height:160px;object-fit:contain;background:#111;display:block}
#grid figure.current img{outline:3px solid #4a4}
#grid figcaption{font-size:11px;color:#999;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
#message{color:#f66}
body.grid #grid{display:flex}body.grid #single{display:none}
</style></head>
<body>
<div id="bar"><span id="counter">loading</span><span id="name"></span><span id="message"></span>
<span class="help">&larr;/&rarr; move &middot; Del or X reject &middot; U undo &middot; G grid</span></div>
<div id="single"><img id="main" alt=""><div id="caption"></div></div>
<div id="grid"></div>
<script nonce="__NONCE__">
"use strict";
const TOKEN = "__TOKEN__";
let files = [];
let index = 0;
let rejectedTotal = 0;
let queue = Promise.resolve();

function visible() { return files.filter(f => !f.rejected); }
function current() { const v = visible(); return v.length ? v[Math.min(index, v.length - 1)] : null; }
function enc(path) { return path.split("/").map(encodeURIComponent).join("/"); }

function render() {
  const v = visible();
  if (index >= v.length) index = Math.max(0, v.length - 1);
  document.getElementById("counter").textContent =
    "kept " + v.length + " \\u00b7 rejected " + rejectedTotal;
  const f = current();
  const main = document.getElementById("main");
  if (f) {
    main.src = "/image/" + enc(f.file);
    main.alt = f.file;
    document.getElementById("name").textContent = (index + 1) + "/" + v.length + "  " + f.file;
    document.getElementById("caption").textContent = f.caption || "";
  } else {
    main.removeAttribute("src");
    document.getElementById("name").textContent = "no images left";
    document.getElementById("caption").textContent = "";
  }
  document.body.dataset.current = f ? f.file : "";
  if (document.body.classList.contains("grid")) renderGrid();
}

function renderGrid() {
  const grid = document.getElementById("grid");
  grid.textContent = "";
  visible().forEach((f, i) => {
    const fig = document.createElement("figure");
    if (i === index) fig.className = "current";
    const img = document.createElement("img");
    img.loading = "lazy";
    img.src = "/thumb/" + enc(f.file);
    const cap = document.createElement("figcaption");
    cap.textContent = f.file;
    fig.append(img, cap);
    fig.addEventListener("click", () => { index = i; document.body.classList.remove("grid"); render(); });
    grid.append(fig);
  });
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-Review-Token": TOKEN},
    body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

async function reject() {
  const f = current();
  if (!f) return;
  const data = await post("/api/reject", {file: f.file});
  f.rejected = true;
  rejectedTotal = data.rejected_total;
}

async function undo() {
  const data = await post("/api/undo", {});
  if (!data.file) return;
  const f = files.find(x => x.file === data.file);
  if (f) f.rejected = false;
  rejectedTotal = data.rejected_total;
  index = visible().findIndex(x => x.file === data.file);
}

function run(action) {
  queue = queue.then(action).then(() => {
    document.getElementById("message").textContent = "";
  }, err => {
    document.getElementById("message").textContent = String(err.message || err);
  }).then(() => { render(); document.body.dataset.pending = "0"; });
}

document.addEventListener("keydown", event => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  if (key === "ArrowRight") { index = Math.min(index + 1, visible().length - 1); render(); }
  else if (key === "ArrowLeft") { index = Math.max(index - 1, 0); render(); }
  else if (key === "Delete" || key === "x" || key === "X") {
    document.body.dataset.pending = "1"; run(reject);
  }
  else if (key === "u" || key === "U") { document.body.dataset.pending = "1"; run(undo); }
  else if (key === "g" || key === "G") { document.body.classList.toggle("grid"); render(); }
  else if (key === "Escape") { document.body.classList.remove("grid"); render(); }
  else return;
  event.preventDefault();
});

fetch("/api/state").then(r => r.json()).then(data => {
  files = data.files;
  rejectedTotal = data.rejected_total;
  render();
  document.body.dataset.ready = "1";
});
</script>
</body></html>
"""

// groupsup explore: plain JavaScript, no build step, no external asset. Talks to the JSON API
// documented in docs/explore.md; every image shown comes from the server.
"use strict";

const state = {
  info: null, providers: {}, target: null, offset: 0, filters: {},
  base: null, to: null, sliderTimer: null, composeSeq: 0,
};
const $ = (id) => document.getElementById(id);

function setStatus(text) { $("status").textContent = text || ""; }

async function api(method, path, body, raw) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.body = raw ? body : JSON.stringify(body);
    options.headers["Content-Type"] = raw ? "application/octet-stream" : "application/json";
  }
  const response = await fetch(path, options);
  const type = response.headers.get("Content-Type") || "";
  const data = type.startsWith("application/json") ? await response.json() : await response.blob();
  if (!response.ok) {
    const message = data && data.error ? `${data.field}: ${data.error}` : response.statusText;
    throw new Error(message);
  }
  return data;
}

function providerSrc(p) {
  return typeof p === "string" ? `/api/uploads/${p}.png` : `/api/examples/${p}.png`;
}

// the provider slots of a composition: every attribute, then the unlabelled block (if any)
function blockNames() {
  const names = state.info.attributes.map((a) => a.name);
  return state.info.free ? [...names, state.info.free] : names;
}

function blockLabel(name) {
  return name === state.info.free ? `${name} (unlabelled)` : name;
}

function option(select, value, text) {
  const o = document.createElement("option");
  o.value = value; o.textContent = text === undefined ? value : text;
  select.appendChild(o);
}

// ------------------------------------------------------------------ dataset
function buildFilters() {
  const form = $("filters");
  for (const attr of state.info.attributes) {
    const label = document.createElement("label");
    label.textContent = attr.name + " ";
    const select = document.createElement("select");
    select.name = attr.name;
    option(select, "", "any");
    attr.values.forEach((v) => option(select, v));
    select.addEventListener("change", () => { state.offset = 0; loadThumbs(false); });
    label.appendChild(select);
    form.appendChild(label);
  }
  const label = document.createElement("label");
  label.textContent = "held-out ";
  const select = document.createElement("select");
  select.name = "held_out";
  option(select, "", "any"); option(select, "1", "only"); option(select, "0", "none");
  select.addEventListener("change", () => { state.offset = 0; loadThumbs(false); });
  label.appendChild(select);
  form.appendChild(label);
}

function thumb(provider, labels, held) {
  const img = document.createElement("img");
  img.className = "thumb" + (held ? " held" : "");
  img.src = providerSrc(provider);
  img.dataset.provider = String(provider);
  img.title = `#${provider}` + (labels ? " " + Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`).join(" ") : "") + (held ? " (held-out)" : "");
  img.alt = img.title;
  img.addEventListener("click", () => pick(provider));
  return img;
}

async function loadThumbs(append) {
  const params = new URLSearchParams();
  for (const el of $("filters").elements) if (el.value) params.set(el.name, el.value);
  params.set("offset", String(state.offset));
  params.set("limit", "120");
  try {
    const page = await api("GET", "/api/examples?" + params);
    const box = $("thumbs");
    if (!append) box.replaceChildren();
    page.examples.forEach((e) => box.appendChild(thumb(e.id, e.labels, e.held_out)));
    state.offset = page.offset + page.examples.length;
    $("thumb-count").textContent = `${state.offset} of ${page.total}`;
    $("more").hidden = state.offset >= page.total;
    return page;
  } catch (err) { setStatus(err.message); return null; }
}

// ------------------------------------------------------------------ compose
function buildTargets() {
  const box = $("targets");
  const names = blockNames();
  for (const target of [...names, "sweep base", "slider: to"]) {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio"; radio.name = "target"; radio.value = target;
    radio.addEventListener("change", () => { state.target = target; });
    const img = document.createElement("img");
    img.id = "target-" + target.replace(/[^a-z0-9]+/gi, "-");
    img.alt = target;
    label.append(radio, img, document.createTextNode(" " + blockLabel(target)));
    box.appendChild(label);
  }
  box.querySelector("input").checked = true;
  state.target = names[0];
}

function targetImage(target) {
  return $("target-" + target.replace(/[^a-z0-9]+/gi, "-"));
}

function pick(provider) {
  const target = state.target;
  if (target === "sweep base") { state.base = provider; }
  else if (target === "slider: to") { state.to = provider; interpolate(); }
  else { state.providers[target] = provider; compose(); }
  targetImage(target).src = providerSrc(provider);
}

async function compose() {
  const seq = ++state.composeSeq;  // answers may arrive out of order: show the newest only
  const providers = { ...state.providers };
  try {
    const r = await api("POST", "/api/synthesize", { providers, format: "json" });
    if (seq !== state.composeSeq) return;
    const img = $("compose-image");
    img.src = r.image;
    img.dataset.providers = JSON.stringify(providers);
    $("combination").textContent = r.combination
      ? Object.entries(r.combination).map(([k, v]) => `${k}=${v}`).join(", ")
      : "(an upload is a provider: its values are unknown)";
    if (r.truth === null) {
      $("truth-image").removeAttribute("src");
      $("truth-caption").textContent = "no ground truth in the data";
      $("compose-error").textContent = "";
    } else {
      $("truth-image").src = providerSrc(r.truth);
      $("truth-caption").textContent = `ground truth #${r.truth}` +
        (r.held_out ? " (held-out: never seen in training)" : "");
      const psnr = r.error.psnr === null ? "inf" : r.error.psnr.toFixed(2);
      $("compose-error").textContent = `error: MSE ${r.error.mse.toFixed(4)}, PSNR ${psnr} dB`;
    }
    setStatus("");
    interpolate();
  } catch (err) { setStatus(err.message); }
}

// ------------------------------------------------------------------ sweep and slider
async function sweep() {
  const base = state.base === null ? state.providers[state.info.attributes[0].name] : state.base;
  const attribute = $("sweep-attribute").value;
  const request = { base, attribute };
  if (attribute === state.info.free) request.count = 8;  // 8 training examples drawn at random
  try {
    const r = await api("POST", "/api/sweep", request);
    const row = $("sweep-row");
    row.replaceChildren();
    for (const item of r.items) {
      const fig = document.createElement("figure");
      const img = document.createElement("img");
      // an unlabelled block's item has no value: it is named by the example it comes from
      const name = item.value === null ? `#${item.provider}` : item.value;
      img.src = item.image; img.alt = name; img.className = "sweep-item";
      const cap = document.createElement("figcaption");
      cap.textContent = name + (item.held_out ? " *" : "");
      fig.append(img, cap);
      row.appendChild(fig);
    }
    setStatus("");
  } catch (err) { setStatus(err.message); }
}

function interpolate() {
  if (state.to === null) return;
  clearTimeout(state.sliderTimer);  // at most one request per 30 ms of dragging
  state.sliderTimer = setTimeout(async () => {
    const t = Number($("slider").value) / 100;
    $("slider-value").textContent = t.toFixed(2);
    try {
      const r = await api("POST", "/api/interpolate", {
        providers: state.providers, attribute: $("slider-attribute").value, to: state.to,
        t, format: "json",
      });
      $("slider-image").src = r.image;
      $("slider-image").dataset.t = String(t);
    } catch (err) { setStatus(err.message); }
  }, 30);
}

// ------------------------------------------------------------------ upload
async function upload() {
  const file = $("upload-file").files[0];
  if (!file) { setStatus("upload: choose an image file first"); return; }
  try {
    const r = await api("POST", "/api/upload", await file.arrayBuffer(), true);
    $("uploads").appendChild(thumb(r.upload, null, false));
    $("upload-result").textContent = `uploaded as ${r.upload}; click it to use it`;
    setStatus("");
  } catch (err) {
    $("upload-result").textContent = err.message;
    setStatus(err.message);
  }
}

// ------------------------------------------------------------------ run
function matrix(box, m) {
  if (!m || !m.matrix) { box.textContent = "no evaluation yet (groupsup evaluate RUN)"; return; }
  const table = document.createElement("table");
  table.className = "matrix";
  const head = table.insertRow();
  head.insertCell().textContent = "block \\ attribute";
  m.attributes.forEach((a) => { head.insertCell().textContent = a; });
  m.matrix.forEach((row, i) => {
    const tr = table.insertRow();
    tr.insertCell().textContent = blockLabel(m.blocks[i]);
    row.forEach((v) => {
      const td = tr.insertCell();
      td.textContent = v === null ? "-" : v.toFixed(2);
      if (v !== null) td.style.background = `rgba(40, 90, 200, ${Math.min(1, Math.max(0, v))})`;
      if (v !== null && v > 0.6) td.style.color = "#fff";
    });
  });
  box.replaceChildren(table);
}

function curves(box, c) {
  const names = Object.keys(c.series);
  if (!c.steps.length) { box.textContent = "no training log"; return; }
  const W = 300, H = 160, ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  const values = names.flatMap((n) => c.series[n]).filter((v) => v !== null && v > 0);
  const lo = Math.log(Math.min(...values)), hi = Math.log(Math.max(...values));
  const s0 = c.steps[0], s1 = c.steps[c.steps.length - 1];
  const x = (s) => 30 + (W - 40) * (s1 === s0 ? 0 : (s - s0) / (s1 - s0));
  const y = (v) => 10 + (H - 30) * (hi === lo ? 0.5 : (hi - Math.log(v)) / (hi - lo));
  const colours = ["#222", "#d33", "#36c", "#393", "#c90", "#939", "#3aa"];
  names.forEach((n, k) => {
    const points = c.steps.map((s, i) => [s, c.series[n][i]])
      .filter(([, v]) => v !== null && v > 0).map(([s, v]) => `${x(s)},${y(v)}`);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", colours[k % colours.length]);
    svg.appendChild(line);
    if (points.length < 50) {  // a short log: mark each point, a lone one draws no line
      for (const point of points) {
        const [cx, cy] = point.split(",");
        const dot = document.createElementNS(ns, "circle");
        dot.setAttribute("cx", cx); dot.setAttribute("cy", cy); dot.setAttribute("r", "2");
        dot.setAttribute("fill", colours[k % colours.length]);
        svg.appendChild(dot);
      }
    }
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", 35 + 60 * (k % 4)); text.setAttribute("y", H - 4 - 12 * Math.floor(k / 4));
    text.setAttribute("fill", colours[k % colours.length]); text.setAttribute("font-size", "10");
    text.textContent = n;
    svg.appendChild(text);
  });
  const caption = document.createElement("p");
  caption.className = "hint";
  caption.textContent = `losses (log scale), steps ${s0}..${s1}`;
  box.replaceChildren(svg, caption);
}

async function loadRun() {
  try {
    const r = await api("GET", "/api/run");
    curves($("curves"), r.curves);
    const e = r.evaluation;
    $("headline").textContent = e && e.headline ? e.headline.text : "no evaluation yet";
    matrix($("leakage"), e && e.leakage);
    matrix($("coprediction"), e && e.coprediction);
  } catch (err) { setStatus(err.message); }
}

// ------------------------------------------------------------------ start
async function start() {
  setStatus("loading the model\u2026");  // the server may still be reading the checkpoint
  state.info = await api("GET", "/api/info");
  setStatus("");
  const info = state.info;
  $("run-name").textContent = `${info.name}: ${info.run} (${info.checkpoint}), ` +
    `${info.examples} examples, ${info.held_out_examples} held-out`;
  $("upload-hint").textContent = `a ${info.limits.upload_formats.join(" or ")} image of ` +
    `${info.image.width}x${info.image.height} pixels, at most ${info.limits.upload_bytes} bytes`;
  for (const name of blockNames()) {
    option($("sweep-attribute"), name, blockLabel(name));
    option($("slider-attribute"), name, blockLabel(name));
  }
  if (info.free) {
    $("free-hint").textContent = `${info.free} (unlabelled): the latent block no attribute ` +
      "names; its provider gives the synthesis its unnamed variation (a slant, a pose). " +
      "Sweeping it takes it from 8 training examples drawn at random.";
    $("free-hint").hidden = false;
  }
  buildFilters();
  buildTargets();
  $("more").addEventListener("click", () => loadThumbs(true));
  $("sweep-run").addEventListener("click", sweep);
  $("slider").addEventListener("input", interpolate);
  $("slider-attribute").addEventListener("change", interpolate);
  $("upload-send").addEventListener("click", upload);
  const page = await loadThumbs(false);
  if (page && page.examples.length) {
    const first = page.examples[0].id;
    for (const name of blockNames()) {
      state.providers[name] = first;
      targetImage(name).src = providerSrc(first);
    }
    await compose();
  }
  loadRun();
  document.body.dataset.ready = "1";
}

start().catch((err) => setStatus(err.message));

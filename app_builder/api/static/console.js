// Ficha API console: reads the OpenAPI document and lets you try each operation.
// Plain JavaScript, served by Ficha itself (no CDN).
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  };
  const tokenBox = $("#token");
  tokenBox.value = sessionStorage.getItem("ficha-token") || "";
  tokenBox.addEventListener("change", () => sessionStorage.setItem("ficha-token", tokenBox.value));

  function operation(path, method, op) {
    const form = el("form", { class: "op" });
    const params = (op.parameters || []);
    for (const p of params) {
      form.append(el("label", {}, `${p.name} (${p.in})`, el("input", { name: `${p.in}:${p.name}`, placeholder: p.description || "" })));
    }
    if (op.requestBody) {
      form.append(el("label", {}, "body (JSON)", el("textarea", { name: "body", rows: "6" }, "{}")));
    }
    const out = el("pre", { class: "out" });
    form.append(el("button", { type: "submit" }, "Send"), out);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let url = path;
      const query = new URLSearchParams();
      for (const p of params) {
        const value = form.elements[`${p.in}:${p.name}`].value;
        if (!value) continue;
        if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(value));
        else query.append(p.name, value);
      }
      const headers = { Accept: "application/json" };
      if (tokenBox.value) headers.Authorization = `Bearer ${tokenBox.value}`;
      const init = { method: method.toUpperCase(), headers, credentials: "same-origin" };
      if (op.requestBody) {
        headers["Content-Type"] = "application/json";
        init.body = form.elements.body.value;
      }
      const qs = query.toString();
      out.textContent = "…";
      try {
        const response = await fetch(qs ? `${url}?${qs}` : url, init);
        const text = await response.text();
        let shown = text;
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
        out.textContent = `${response.status} ${response.statusText}\n${shown}`;
      } catch (error) {
        out.textContent = String(error);
      }
    });
    return el("details", {}, el("summary", {}, el("b", {}, method.toUpperCase()), ` ${path} — ${op.summary || ""}`), form);
  }

  fetch("openapi.json").then((r) => r.json()).then((doc) => {
    const root = $("#operations");
    const byTag = new Map();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const tag = (op.tags || ["other"])[0];
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push(operation(path, method, op));
      }
    }
    for (const [tag, ops] of byTag) {
      root.append(el("h2", {}, tag), ...ops);
    }
  });
})();

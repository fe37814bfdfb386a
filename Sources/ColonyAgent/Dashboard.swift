/// The live dashboard served at `/`: plain HTML and JavaScript, no build step, no CDN. It
/// polls `/v1/members`, `/v1/hive`, `/v1/kv` and `/v1/state`, listens to `/v1/events` and
/// `/v1/log` (SSE), and draws every member as a node on a ring, coloured by status, with its
/// incarnation, the queens ringed in gold and the routing tree (queen to queen, and this
/// agent's cell to its queen) in gold lines; beside it the cells, the keys and the recent
/// user events and writes.
enum Dashboard {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>Colony</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
          body { font-family: system-ui, sans-serif; margin: 0; background: #101418; color: #e8e8e8; }
          header { padding: 12px 20px; background: #182028; display: flex; gap: 24px; align-items: baseline; }
          header h1 { font-size: 20px; margin: 0; }
          .muted { color: #8a96a3; font-size: 13px; }
          main { display: flex; flex-wrap: wrap; gap: 20px; padding: 20px; }
          #ring { background: #141a20; border-radius: 8px; }
          table { border-collapse: collapse; font-size: 13px; min-width: 420px; }
          th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #26313b; }
          .alive { color: #4cd07d; } .suspect { color: #f0c040; } .dead { color: #ef5350; } .left { color: #8a96a3; }
          .legend span { margin-right: 14px; }
          #activity { font-family: ui-monospace, monospace; font-size: 12px; max-height: 240px; overflow-y: auto;\#
         min-width: 420px; }
          h3 { font-size: 13px; margin: 14px 0 6px; }
          #log { font-family: ui-monospace, monospace; font-size: 12px; max-height: 200px; overflow-y: auto; width:\#
         100%; }
        </style>
        </head>
        <body>
        <header>
          <h1>Colony</h1>
          <span id="self" class="muted">connecting…</span>
          <span id="counts" class="muted"></span>
          <span class="legend muted"><span class="alive">● alive</span><span class="suspect">●\#
         suspect</span><span class="dead">● dead</span><span class="left">● left</span></span>
        </header>
        <main>
          <svg id="ring" width="520" height="520" viewBox="0 0 520 520" role="img" aria-label="swarm"></svg>
          <div>
            <table>
              <thead><tr><th>name</th><th>status</th><th>incarnation</th><th>address</th><th>tags</th></tr></thead>
              <tbody id="members"></tbody>
            </table>
          </div>
          <div>
            <h3 class="muted">hive <span id="hivesum"></span></h3>
            <table>
              <thead><tr><th>cell</th><th>queen</th><th>term</th><th>size</th><th>room</th><th>rtt</th></tr></thead>
              <tbody id="cells"></tbody>
            </table>
            <h3 class="muted">keys <span id="statesum"></span></h3>
            <table>
              <thead><tr><th>key</th><th>value</th><th>siblings</th></tr></thead>
              <tbody id="keys"></tbody>
            </table>
            <h3 class="muted">recent events and writes</h3>
            <div id="activity"></div>
          </div>
          <div id="log"></div>
        </main>
        <script>
          // The API wants the agent's token: open the dashboard as /#token=… (`colony demo` and
          // `colony dashboard` print that URL). The fragment is never sent with the page request;
          // the token is kept for this tab (sessionStorage, so a reload works), taken out of the
          // address bar, and sent with each API call as a bearer token, or as access_token on the
          // event streams (EventSource cannot set headers).
          const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
          if (fromUrl) {
            sessionStorage.setItem("colony-token", fromUrl);
            history.replaceState(null, "", location.pathname + location.search);
          }
          const token = fromUrl || sessionStorage.getItem("colony-token");
          function authed(path) {
            return token ? path + (path.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(token) : path;
          }
          async function api(path) {
            const r = await fetch(path, token ? { headers: { Authorization: "Bearer " + token } } : {});
            if (r.status === 401) { throw new Error("unauthorized"); }
            return r.json();
          }
        const colors = { alive: "#4cd07d", suspect: "#f0c040", dead: "#ef5350", left: "#8a96a3" };
        let selfId = null;
        // The hive as this agent sees it (GET /v1/hive): queens are ringed in gold; the routing
        // tree is drawn as gold lines between the queens and from this agent's cell to its queen.
        let hive = null;
        function esc(s) { return String(s).replace(/[&<>"]/g, c =>\#
         ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[c])); }
        function draw(members) {
          const svg = document.getElementById("ring");
          const n = members.length, cx = 260, cy = 260, r = n > 1 ? 200 : 0;
          let out = "";
          const pos = {};
          members.forEach((m, i) => {
            const a = 2 * Math.PI * i / Math.max(1, n) - Math.PI / 2;
            pos[m.id] = { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) };
          });
          const queens = new Set(hive ? hive.cells.map(c => c.queen) : []);
          const byName = {};
          members.forEach(m => byName[m.name] = m.id);
          let tree = "";
          if (hive) {
            // Queen to queen (every queen forwards to every other), and this cell's voters to their queen.
            const qs = hive.cells.map(c => c.queen).filter(q => pos[q]);
            qs.forEach((a, i) => qs.slice(i + 1).forEach(b =>
              tree += `<line class="tree queens" x1="${pos[a].x}" y1="${pos[a].y}" x2="${pos[b].x}" y2="${pos[b].y}"\#
         stroke="#d4a017" stroke-dasharray="4 3"/>`));
            const q = hive.node.queen || (hive.node.role === "queen" ? hive.node.id : null);
            if (q && pos[q]) {
              hive.node.voters.map(v => byName[v]).filter(v => v && v !== q && pos[v]).forEach(v =>
                tree += `<line class="tree cell" x1="${pos[q].x}" y1="${pos[q].y}" x2="${pos[v].x}" y2="${pos[v].y}"\#
         stroke="#d4a017"/>`);
            }
          }
          members.forEach((m) => {
            const { x, y } = pos[m.id];
            if (selfId && m.id !== selfId && m.status !== "left") {
              out += `<line x1="${cx}" y1="${cy}" x2="${x}" y2="${y}" stroke="#26313b"/>`;
            }
          });
          out += tree;
          members.forEach((m) => {
            const { x, y } = pos[m.id];
            const rad = m.id === selfId ? 16 : 12;
            const queen = queens.has(m.id);
            out += `<circle class="member ${m.status}${queen ? " queen" : ""}" data-name="${esc(m.name)}" cx="${x}"\#
         cy="${y}" r="${rad}" fill="${colors[m.status] || "#fff"}"${queen ? ` stroke="#d4a017" stroke-width="4"` :\#
         ""}/>`;
            out += `<text x="${x}" y="${y + rad + 14}" fill="#e8e8e8" font-size="12"\#
         text-anchor="middle">${esc(m.name)} #${m.incarnation}</text>`;
          });
          svg.innerHTML = out;
          document.getElementById("members").innerHTML = members.map(m =>
            `<tr class="row" data-name="${esc(m.name)}"><td>${esc(m.name)}</td><td\#
         class="${m.status}">${m.status}</td><td>${m.incarnation}</td><td>${esc(m.address)}</td><td>${esc(Object.ent\#
        ries(m.tags).map(([k, v]) => k + "=" + v).join(", "))}</td></tr>`).join("");
          const counts = {};
          members.forEach(m => counts[m.status] = (counts[m.status] || 0) + 1);
          document.getElementById("counts").textContent = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join("\#
         · ");
        }
        async function refresh() {
          try {
            if (!selfId) {
              const me = await api("/v1/self");
              selfId = me.id;
              document.getElementById("self").textContent = `${me.name} at ${me.address}`;
            }
            try {
              hive = await api("/v1/hive");
              const nd = hive.node;
              document.getElementById("hivesum").textContent = nd.role === "homeless" ? "· in no cell (plain gossip)"
                : `· ${nd.role} of cell ${nd.cell} in term ${nd.term}${nd.routing ? "" : " (not routing)"}`;
              document.getElementById("cells").innerHTML = hive.cells.map(c =>
                `<tr class="cell" data-cell="${esc(c.cell)}" data-queen="${esc(c.queenName ??\#
         c.queen)}"><td>${esc(c.cell)}</td><td>${esc(c.queenName ??\#
         c.queen)}</td><td>${c.term}</td><td>${c.size}</td><td>${c.open ? "open" : "full"}</td><td>${c.rttMs == null\#
         ? "—" : c.rttMs.toFixed(2) + " ms"}</td></tr>`).join("");
            } catch (e) { hive = null; }
            draw(await api("/v1/members"));
            const keys = await api("/v1/kv?limit=50");
            document.getElementById("keys").innerHTML = keys.map(k =>
              `<tr class="key" data-key="${esc(k.key)}"><td>${esc(k.key)}</td><td>${esc(k.text ?? (k.value ?\#
         "base64:" + k.value.slice(0, 24) : "(deleted)"))}</td><td>${k.siblings.length}</td></tr>`).join("");
            const st = await api("/v1/state");
            document.getElementById("statesum").textContent = `· ${st.keys} keys, ${st.records} records,\#
         ${st.bytes} bytes, digest ${st.digest}`;
            if (logFrom === null) { logFrom = Math.max(1, st.logOffset - 100); }
          } catch (e) {
            document.getElementById("self").textContent = e.message !== "unauthorized" ? "agent unreachable"
              : "this agent wants its token: open the address `colony dashboard` prints (/#token=…)";
          }
        }
        let logFrom = null;
        function activity(text) {
          const el = document.getElementById("activity");
          el.insertAdjacentHTML("afterbegin", `<div class="act">${esc(text)}</div>`);
          while (el.childElementCount > 100) el.lastElementChild.remove();
        }
        function log(text) {
          const el = document.getElementById("log");
          el.insertAdjacentHTML("afterbegin", `<div>${esc(new Date().toLocaleTimeString())} ${esc(text)}</div>`);
        }
        function listen() {
          const events = new EventSource(authed("/v1/events"));
          events.addEventListener("member", e => { const c = JSON.parse(e.data); log(`${c.member.name} ${c.previous\#
         || "new"} → ${c.member.status} (#${c.member.incarnation})`); refresh(); });
          const entries = new EventSource(authed("/v1/log?from=" + (logFrom || 1)));
          const t = ms => new Date(ms).toLocaleTimeString();
          entries.addEventListener("event", e => { const x = JSON.parse(e.data); activity(`${t(x.atMs)} event\#
         ${x.subject} ${x.event.text ?? ""} (lamport ${x.event.lamport})`); });
          entries.addEventListener("key", e => { const x = JSON.parse(e.data); activity(`${t(x.atMs)}\#
         ${x.record.deleted ? "delete" : "write"} ${x.subject} = ${x.record.text ?? ""}${x.info.local ? " (here)" :\#
         ""}`); });
        }
        refresh();
        setInterval(refresh, 1000);
        // The event stream opens once the first view is drawn (a page with an open stream never
        // finishes loading for tools that wait on the network).
        setTimeout(listen, 2500);
        </script>
        </body>
        </html>
        """#
}

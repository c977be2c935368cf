// The gradebook page: plain JavaScript, no framework or CDN. It fetches api/summary every few seconds and
// draws one of four views from it, chosen by the address's #fragment:
//   (none)             the class: students x chapters (an instructor), or your own results (a student)
//   #chapter/03        one chapter: students x its questions
//   #student/NAME      one student: every chapter and question
//   #question/ID       one question: every student
// Everything shown is built with textContent (never innerHTML), so names and titles cannot inject markup.
(() => {
  "use strict";

  const body = document.body;
  const PREFIX = body.dataset.prefix;
  const XSRF = body.dataset.xsrf;
  const VIEWER = body.dataset.viewer;
  const INSTRUCTOR = body.dataset.instructor === "true";
  const REFRESH_MS = Number(body.dataset.refresh || 10) * 1000;
  const ACTIVE_MS = 15 * 60 * 1000;
  const app = document.getElementById("app");
  const notice = document.getElementById("notice");

  let data = null;
  let timer = null;
  let failures = 0;
  const ui = {
    search: "", show: "all", sort: { key: "name", dir: 1 }, selected: new Set(),
    gradeOpen: false, gradeChapters: new Set(), gradeMessage: "", busy: false,
  };

  // -- small helpers ----------------------------------------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "style") el.style.cssText = value; // CSSOM: allowed by the page's CSP
      else if (value === true) el.setAttribute(key, "");
      else el.setAttribute(key, String(value));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  const label = (en, ko) => [en, " ", h("span", { class: "ko", text: `(${ko})` })];
  const label1 = (en, ko) => `${en} (${ko})`;
  const head2 = (en, ko) => [en, h("span", { class: "ko", text: `(${ko})` })]; // a column head: Korean below

  function when(iso) {
    if (!iso) return "—";
    const seconds = (Date.now() - Date.parse(iso)) / 1000;
    if (seconds < 45) return "just now";
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
    return new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric" });
  }
  const fullTime = (iso) => (iso ? new Date(iso).toLocaleString() : "");
  const timeEl = (iso) => h("time", { datetime: iso || null, title: fullTime(iso) || null, text: when(iso) });
  const isActive = (iso) => Boolean(iso) && Date.now() - Date.parse(iso) < ACTIVE_MS;
  const pct = (n, of) => (of ? Math.round((100 * n) / of) : 0);
  const chapterName = (c) => (c.title ? `${c.id} · ${c.title}` : `Chapter ${c.id}`);
  const shortId = (id) => id.slice(id.indexOf(".") + 1);

  function showNotice(text, kind) {
    notice.hidden = !text;
    notice.textContent = text || "";
    notice.className = "notice" + (kind ? " " + kind : "");
  }

  async function api(path, options = {}) {
    const headers = { "X-XSRFToken": XSRF, Accept: "application/json" };
    if (options.body) headers["Content-Type"] = "application/json";
    const answer = await fetch(PREFIX + path, { credentials: "same-origin", ...options, headers });
    let payload = null;
    try {
      payload = await answer.json();
    } catch (_) {
      payload = null;
    }
    if (!answer.ok) {
      const error = new Error((payload && payload.error) || `${answer.status} ${answer.statusText}`);
      error.status = answer.status;
      throw error;
    }
    return payload;
  }

  // -- data --------------------------------------------------------------------------------------------------
  async function refresh() {
    try {
      data = await api("api/summary");
      failures = 0;
      showNotice("");
      document.getElementById("updated").textContent = new Date().toLocaleTimeString();
      render();
    } catch (error) {
      failures += 1;
      if (error.status === 401 || error.status === 403) {
        showNotice(`Your login has ended: reload the page to log in again (다시 로그인하세요). ${error.message}`, "error");
        stopTimer();
      } else {
        showNotice(`Could not refresh (새로 고침 실패): ${error.message}. Trying again in ${REFRESH_MS / 1000} s.`,
          failures > 2 ? "error" : "");
      }
      if (!data) app.replaceChildren(h("p", { class: "empty", text: "No data yet (아직 데이터가 없습니다)." }));
    }
  }
  function startTimer() {
    stopTimer();
    if (document.getElementById("auto-refresh").checked) timer = setInterval(refresh, REFRESH_MS);
  }
  function stopTimer() {
    if (timer) clearInterval(timer);
    timer = null;
  }

  const chapterById = (id) => data.chapters.find((c) => c.id === id);
  const studentByName = (name) => data.students.find((s) => s.name === name);

  // -- routing and drawing -------------------------------------------------------------------------------
  function route() {
    const [kind, ...rest] = decodeURIComponent(location.hash.slice(1)).split("/");
    return { kind: kind || "", arg: rest.join("/") };
  }

  let renderLater = false;
  function render() {
    if (!data) return;
    // an open drop-down would close under a redraw: draw once it is left
    if (document.activeElement && document.activeElement.tagName === "SELECT" && app.contains(document.activeElement)) {
      renderLater = true;
      return;
    }
    renderLater = false;
    // keep the search box's focus and the table's scroll position across a refresh
    const focused = document.activeElement && document.activeElement.id;
    const caret = focused && document.activeElement.selectionStart;
    const scrolls = [...app.querySelectorAll("[data-scroll]")].map((el) => [el.dataset.scroll, el.scrollTop, el.scrollLeft]);

    const { kind, arg } = route();
    let view;
    if (kind === "chapter" && INSTRUCTOR && chapterById(arg)) view = chapterView(chapterById(arg));
    else if (kind === "question" && INSTRUCTOR && data.questions[arg]) view = questionView(arg);
    else if (kind === "student" && studentByName(arg)) view = studentView(studentByName(arg));
    else if (!INSTRUCTOR) view = studentView(studentByName(VIEWER) || emptyStudent(VIEWER));
    else view = classView();
    app.replaceChildren(view);

    fitTables();
    for (const [key, top, left] of scrolls) {
      const el = app.querySelector(`[data-scroll="${key}"]`);
      if (el) { el.scrollTop = top; el.scrollLeft = left; }
    }
    if (focused) {
      const el = document.getElementById(focused);
      if (el) {
        el.focus();
        if (typeof caret === "number" && el.setSelectionRange) el.setSelectionRange(caret, caret);
      }
    }
  }

  // A table scrolls inside its frame, which ends above the page's footer: its head and totals stay in view.
  function fitTables() {
    const footer = document.querySelector(".footer");
    for (const wrap of app.querySelectorAll(".table-wrap[data-scroll]")) {
      const room = window.innerHeight - wrap.getBoundingClientRect().top - (footer ? footer.offsetHeight : 0) - 40;
      wrap.style.maxHeight = `${Math.max(260, Math.floor(room))}px`;
    }
  }

  function emptyStudent(name) {
    return { name, passed: 0, total: 0, attempts: 0, completed: 0, last_at: null, chapters: {}, questions: {} };
  }

  function sortable(key, content, extra = {}) {
    const on = ui.sort.key === key;
    return h("th", {
      class: `sortable ${extra.class || ""}`, title: extra.title || "Sort (정렬)", "aria-sort": on ? (ui.sort.dir > 0 ? "ascending" : "descending") : null,
      onclick: () => { ui.sort = { key, dir: on ? -ui.sort.dir : key === "name" ? 1 : -1 }; render(); },
    }, ...arrowAfterFirst(content, on ? h("span", { class: "arrow", text: ui.sort.dir > 0 ? "▲" : "▼" }) : null),
    extra.after || null);
  }

  function arrowAfterFirst(content, arrow) {
    const parts = Array.isArray(content) ? content : [content];
    return [parts[0], arrow, ...parts.slice(1)];
  }

  function sortRows(rows, valueOf) {
    const { key, dir } = ui.sort;
    return [...rows].sort((a, b) => {
      const va = valueOf(a, key), vb = valueOf(b, key);
      if (va === vb) return a.name.localeCompare(b.name);
      if (va === null || va === undefined) return 1;
      if (vb === null || vb === undefined) return -1;
      return (va < vb ? -1 : 1) * dir;
    });
  }

  function filterRows(rows) {
    const needle = ui.search.trim().toLowerCase();
    return rows.filter((s) => {
      if (needle && !s.name.toLowerCase().includes(needle)) return false;
      if (ui.show === "active") return isActive(s.last_at);
      if (ui.show === "idle") return Boolean(s.last_at) && !isActive(s.last_at);
      if (ui.show === "none") return !s.last_at;
      return true;
    });
  }

  function statBox(value, en, ko, title) {
    return h("div", { class: "stat", title: title || null },
      h("div", { class: "value", text: value }), h("div", { class: "label", text: label1(en, ko) }));
  }

  function gradedLine(g) {
    if (!g) return null;
    if (g.running) return h("div", { class: "graded-line run pulse", title: `since ${fullTime(g.running_since)}`, text: "grading… (채점 중)" });
    if (g.passed === null) {
      return g.interrupted ? h("div", { class: "graded-line warn", text: "grading interrupted (채점 중단)" }) : null;
    }
    const ok = g.status === "graded";
    const text = ok ? `graded ${g.passed}/${g.total}` + (g.results_total ? ` · figures ${g.results_reached}/${g.results_total}` : "")
      : `${g.status} · ${g.passed}/${g.total}`;
    return h("div", {
      class: `graded-line ${ok ? "ok" : g.status === "not started" ? "warn" : "bad"}`,
      title: [`Graded (채점) ${fullTime(g.finished_at)}`, g.detail].filter(Boolean).join(" — "), text,
    });
  }

  // -- the class ---------------------------------------------------------------------------------------------
  function classView() {
    const all = data.students;
    const rows = sortRows(filterRows(all), (s, key) => {
      if (key === "name") return s.name;
      if (key === "passed") return s.passed;
      if (key === "attempts") return s.attempts;
      if (key === "completed") return s.completed;
      if (key === "last") return s.last_at;
      if (key.startsWith("ch:")) {
        const c = s.chapters[key.slice(3)];
        return c ? c.passed * 10000 + c.results_reached * 100 + Math.min(c.attempts, 99) : null;
      }
      return null;
    });
    const exercises = data.chapters.reduce((n, c) => n + c.exercises.length, 0);
    const active = all.filter((s) => isActive(s.last_at)).length;
    const mean = all.length ? all.reduce((n, s) => n + s.passed, 0) / all.length : 0;

    const stats = h("div", { class: "stats" },
      statBox(all.length, "Students", "학생"),
      statBox(active, "Active in the last 15 min", "최근 15분 활동"),
      statBox(`${mean.toFixed(1)} / ${exercises}`, "Exercises passed, mean", "평균 통과한 연습 문제"),
      statBox(all.reduce((n, s) => n + s.completed, 0), "Chapters completed", "완료한 챕터"),
      statBox(all.reduce((n, s) => n + s.attempts, 0), "Attempts", "시도 횟수"));

    const search = h("input", {
      type: "search", id: "search", placeholder: label1("Filter students", "학생 검색"), value: ui.search,
      "aria-label": label1("Filter students", "학생 검색"),
      oninput: (e) => { ui.search = e.target.value; render(); },
    });
    const show = h("select", { id: "show", "aria-label": label1("Show", "보기"), onchange: (e) => { ui.show = e.target.value; e.target.blur(); render(); } },
      [["all", "All students (전체 학생)"], ["active", "Active in the last 15 min (최근 활동)"],
        ["idle", "Not active now (활동 없음)"], ["none", "Not started (시작 안 함)"]]
        .map(([value, text]) => h("option", { value, selected: ui.show === value, text })));
    const open = h("select", { id: "open-chapter", "aria-label": label1("Open a chapter", "챕터 보기"),
      onchange: (e) => { e.target.blur(); if (e.target.value) location.hash = `chapter/${e.target.value}`; } },
    h("option", { value: "", text: "Open a chapter… (챕터 보기)" }),
    data.chapters.map((c) => h("option", { value: c.id, text: chapterName(c) })));
    const toolbar = h("div", { class: "toolbar" }, search, show, open, h("span", { class: "grow" }),
      h("a", { class: "btn", href: PREFIX + "grades.csv", download: "" }, ...label("Download CSV", "CSV 내려받기")),
      h("button", { class: `btn ${ui.gradeOpen ? "" : "primary"}`, type: "button", id: "grade-toggle",
        onclick: () => { ui.gradeOpen = !ui.gradeOpen; render(); } }, ...label(ui.gradeOpen ? "Close grading" : "Grade…", "채점")));

    const allBox = h("input", {
      type: "checkbox", "aria-label": label1("Select all shown", "모두 선택"),
      checked: rows.length > 0 && rows.every((s) => ui.selected.has(s.name)),
      onchange: (e) => { rows.forEach((s) => (e.target.checked ? ui.selected.add(s.name) : ui.selected.delete(s.name))); render(); },
    });
    const head = h("tr", {},
      h("th", { class: "check sticky" }, allBox),
      sortable("name", head2("Student", "학생"), { class: "sticky", title: "Sort by name (이름순)" }),
      sortable("passed", head2("Exercises passed", "통과한 연습 문제"), { class: "num" }),
      sortable("last", head2("Last activity", "최근 활동")),
      data.chapters.map((c) => sortable(`ch:${c.id}`, [c.id, h("span", { class: "title", text: c.title || " " })], {
        title: `${chapterName(c)}: sort (정렬)`,
        after: h("a", { class: "open", href: `#chapter/${c.id}`, title: "Open the chapter (챕터 보기)", onclick: (e) => e.stopPropagation(), text: "open ›" }),
      })));

    const body_ = h("tbody", {}, rows.map((s) => h("tr", { class: ui.selected.has(s.name) ? "selected" : null, "data-student": s.name },
      h("td", { class: "check sticky" }, h("input", {
        type: "checkbox", "aria-label": `select ${s.name}`, checked: ui.selected.has(s.name),
        onchange: (e) => { e.target.checked ? ui.selected.add(s.name) : ui.selected.delete(s.name); render(); },
      })),
      h("td", { class: "name sticky" }, h("a", { href: `#student/${encodeURIComponent(s.name)}`, text: s.name }),
        isActive(s.last_at) ? h("span", { class: "dot live", title: "Active in the last 15 min (최근 15분 활동)" }) : null),
      h("td", { class: "num" }, h("b", { text: s.passed }), h("span", { class: "ko", text: ` / ${s.total}` })),
      h("td", {}, timeEl(s.last_at)),
      data.chapters.map((c) => chapterCell(c, s.chapters[c.id])))));
    const foot = h("tfoot", {}, h("tr", {},
      h("td", { class: "sticky", colspan: 2 }, h("b", { text: "Totals per chapter" }), h("br"), h("span", { class: "ko", text: "(챕터별 합계)" })),
      h("td", { class: "num" }, `${mean.toFixed(1)} avg`),
      h("td", {}, `${active} active`),
      data.chapters.map((c) => totalsCell(c, data.totals[c.id]))));

    const table = rows.length
      ? h("div", { class: "table-wrap", "data-scroll": "class" }, h("table", { class: "grid", id: "class-table" }, h("thead", {}, head), body_, foot))
      : h("div", { class: "table-wrap" }, h("p", { class: "empty", text: all.length
        ? "No student matches the filter (조건에 맞는 학생이 없습니다)."
        : "No students yet: they appear when they log in or report an attempt (아직 학생이 없습니다)." }));

    return h("section", {},
      h("div", { class: "view-head" }, h("h1", {}, ...label("Class", "반 전체")),
        h("span", { class: "sub", text: `${data.chapters.length} chapters · ${exercises} exercises (연습 문제)` })),
      stats, toolbar, ui.gradeOpen ? gradingPanel() : runningPanel(), table, legend());
  }

  function chapterCell(c, cell) {
    if (!cell) return h("td", { class: "ch none", text: "—" });
    const started = Boolean(cell.last_at);
    const g = cell.graded;
    const classes = ["ch", cell.completed ? "done" : "", !started && !g ? "none" : ""].join(" ");
    const title = [`${chapterName(c)}: ${cell.passed} of ${cell.total} exercises passed (통과)`,
      `${cell.attempts} attempts (시도)`, cell.results_total ? `figures reached ${cell.results_reached} of ${cell.results_total} (결과)` : "",
      cell.completed ? "chapter completed (챕터 완료)" : ""].filter(Boolean).join(" · ");
    return h("td", { class: classes, title },
      h("div", { class: "score" }, h("span", { class: "n", text: cell.passed }), h("span", { class: "of", text: `/${cell.total}` }),
        cell.completed ? h("span", { class: "tick", title: "Chapter completed (챕터 완료)", text: "✓" }) : null),
      h("div", { class: "bar" }, h("i", { style: `width:${pct(cell.passed, cell.total)}%` })),
      h("div", { class: `meta ${isActive(cell.last_at) ? "recent" : ""}` }, started
        ? `${cell.attempts} ${cell.attempts === 1 ? "try" : "tries"} · ${when(cell.last_at)}`
        : "not started"),
      cell.results_total && started ? h("div", { class: "meta", text: cell.completed ? "completed (완료)" : `figures ${cell.results_reached} of ${cell.results_total}` }) : null,
      gradedLine(g));
  }

  function totalsCell(c, t) {
    if (!t) return h("td", {});
    const title = [`${chapterName(c)} (챕터별 합계): mean exercises passed ${t.passed_mean.toFixed(2)} of ${t.total}`,
      `${t.completed} of ${t.students} completed (완료)`, `${t.active} started (시작)`, `${t.attempts} attempts (시도)`,
      t.graded ? `${t.graded} graded, mean ${t.graded_passed_mean.toFixed(2)} (채점)` : ""].filter(Boolean).join(" · ");
    return h("td", { class: "totals", title },
      h("div", {}, h("b", { text: `${t.passed_mean.toFixed(1)}` }), ` / ${t.total} avg`),
      h("div", { text: `✓ ${t.completed} · ${t.active} active` }),
      h("div", { text: `${t.attempts} tries` }),
      t.graded ? h("div", { text: `graded ${t.graded_passed_mean.toFixed(1)} (${t.graded})` }) : null);
  }

  function legend() {
    return h("div", { class: "legend" },
      h("span", {}, h("b", { text: "3/5" }), " ", label1("exercises passed", "통과한 연습 문제")),
      h("span", {}, h("span", { class: "tick", style: "color:var(--good);font-weight:700", text: "✓ " }), label1("chapter completed: every exercise passed and every figure reached", "챕터 완료")),
      h("span", {}, h("span", { class: "graded-line ok", text: "graded 2/5 " }), label1("the last grading run", "채점 결과")),
      h("span", {}, h("span", { class: "dot live" }), " ", label1("active in the last 15 min", "최근 활동")));
  }

  // -- grading -----------------------------------------------------------------------------------------------
  function jobsList() {
    const jobs = (data.grading && data.grading.jobs) || [];
    const running = [];
    for (const s of data.students) {
      for (const c of data.chapters) {
        const g = s.chapters[c.id] && s.chapters[c.id].graded;
        if (g && g.running) running.push(`${s.name} · ${c.id}`);
      }
    }
    const items = jobs.map((j) => h("li", { class: "job" },
      h("span", { class: `badge ${j.state} ${j.state === "running" ? "pulse" : ""}`, text: {
        running: "running (진행 중)", finished: "finished (완료)", failed: "failed (실패)", cancelled: "cancelled (취소)" }[j.state] || j.state }),
      h("span", { class: "what", text: `Chapter ${j.chapters.join(", ")} · ${j.students.length ? j.students.join(", ") : "all students (전체 학생)"}` }),
      h("span", { class: "msg", title: j.message, text: j.message }),
      h("span", { class: "meta" }, timeEl(j.finished_at || j.started_at)),
      j.state === "running" ? h("button", { class: "btn small", type: "button", onclick: () => cancelJob(j.id) }, ...label("Cancel", "취소")) : null));
    if (running.length) {
      items.unshift(h("li", { class: "job" }, h("span", { class: "badge running pulse", text: "in progress (진행 중)" }),
        h("span", { class: "msg", title: running.join(", "), text: `Grading now (채점 중): ${running.slice(0, 12).join(", ")}${running.length > 12 ? ` and ${running.length - 12} more` : ""}` })));
    }
    return items.length ? h("ul", { class: "jobs" }, items) : null;
  }

  function runningPanel() {
    const list = jobsList();
    return list ? h("div", { class: "panel" }, h("h2", {}, ...label("Grading runs", "채점 실행")), list) : null;
  }

  function gradingPanel() {
    const selected = [...ui.selected].filter((n) => studentByName(n)).sort();
    const chips = data.chapters.map((c) => h("label", { class: `chip ${ui.gradeChapters.has(c.id) ? "on" : ""}`, title: chapterName(c) },
      h("input", { type: "checkbox", checked: ui.gradeChapters.has(c.id), onchange: (e) => {
        e.target.checked ? ui.gradeChapters.add(c.id) : ui.gradeChapters.delete(c.id); render(); } }), c.id));
    const who = selected.length
      ? [`${selected.length} selected (선택한 학생): ${selected.slice(0, 8).join(", ")}${selected.length > 8 ? " …" : ""} `,
        h("button", { class: "btn small", type: "button", onclick: () => { ui.selected.clear(); render(); } }, ...label("Clear", "선택 해제"))]
      : ["All students (전체 학생) — tick rows in the table to grade only some"];
    const running = (data.grading && data.grading.jobs || []).some((j) => j.state === "running");
    const start = h("button", {
      class: "btn primary", type: "button", id: "grade-start", disabled: ui.busy || running || ui.gradeChapters.size === 0,
      onclick: () => startGrading([...ui.gradeChapters].sort(), selected),
    }, ...label("Start grading", "채점 시작"));
    return h("div", { class: "panel", id: "grading" },
      h("h2", {}, ...label("Grade notebooks", "노트북 채점")),
      h("div", { class: "row" }, h("b", {}, label1("Chapters", "챕터")), h("div", { class: "chips" }, chips)),
      h("div", { class: "row", style: "margin-top:8px" }, h("b", {}, label1("Students", "학생")), h("span", {}, ...who)),
      h("div", { class: "row", style: "margin-top:10px" }, start,
        h("span", { class: "meta", id: "grade-message", text: ui.gradeMessage || (running ? "A grading run is in progress (채점 진행 중)." : "") })),
      jobsList());
  }

  async function startGrading(chapters, students) {
    ui.busy = true;
    ui.gradeMessage = "Starting… (시작하는 중)";
    render();
    try {
      const answer = await api("api/grade", { method: "POST", body: JSON.stringify({ chapters, students }) });
      ui.gradeMessage = answer.job.state === "failed" ? answer.job.message : ""; // the list below follows it
    } catch (error) {
      ui.gradeMessage = `Could not start grading (채점 실패): ${error.message}`;
    }
    ui.busy = false;
    await refresh();
  }

  async function cancelJob(id) {
    try {
      await api(`api/grade/${id}/cancel`, { method: "POST", body: "{}" });
    } catch (error) {
      ui.gradeMessage = `Could not cancel (취소 실패): ${error.message}`;
    }
    await refresh();
  }

  // -- one chapter -----------------------------------------------------------------------------------------
  function questionMark(q, record, kind) {
    if (!record || (!record.attempts && record.graded === null)) return h("span", { class: "mark none", title: "not tried (시도 안 함)", text: "·" });
    const live = !record.attempts ? h("span", { class: "mark none", text: "·" })
      : record.passed ? h("span", { class: "mark pass", title: `${kind === "result" ? "reached" : "passed"} (통과) · ${record.attempts} tries · ${fullTime(record.last_at)}` }, "✓", h("small", { text: record.attempts }))
        : h("span", { class: "mark fail", title: `not yet (미통과) · ${record.attempts} tries · ${fullTime(record.last_at)}` }, "✗", h("small", { text: record.attempts }));
    const graded = record.graded === null || record.graded === undefined ? null
      : h("span", { class: `gmark ${record.graded ? "pass" : "fail"}`, text: record.graded ? "graded ✓" : "graded ✗" });
    return [live, graded];
  }

  function chapterView(c) {
    const qs = [...c.exercises, ...c.results];
    const rows = sortRows(filterRows(data.students), (s, key) => {
      const cell = s.chapters[c.id] || {};
      if (key === "name") return s.name;
      if (key === "passed") return cell.passed;
      if (key === "attempts") return cell.attempts;
      if (key === "last") return cell.last_at;
      if (key === "graded") return cell.graded && cell.graded.passed;
      if (key.startsWith("q:")) {
        const r = s.questions[key.slice(2)];
        return r ? (r.passed ? 1000 : 0) + r.attempts : null;
      }
      return null;
    });
    const t = data.totals[c.id];
    const search = h("input", { type: "search", id: "search", placeholder: label1("Filter students", "학생 검색"), value: ui.search,
      oninput: (e) => { ui.search = e.target.value; render(); } });
    const head = h("tr", {},
      sortable("name", head2("Student", "학생"), { class: "sticky" }),
      sortable("passed", head2("Exercises passed", "통과한 연습 문제"), { class: "num" }),
      sortable("attempts", head2("Attempts", "시도"), { class: "num" }),
      c.results.length ? h("th", {}, head2("Figures reached", "도달한 결과")) : null,
      h("th", {}, head2("Completed", "완료")),
      sortable("last", head2("Last activity", "최근 활동")),
      sortable("graded", head2("Graded", "채점")),
      qs.map((id) => sortable(`q:${id}`, [h("a", { href: `#question/${encodeURIComponent(id)}`, onclick: (e) => e.stopPropagation(), text: shortId(id) }),
        h("span", { class: "title", text: data.questions[id].kind === "result" ? "figure (결과)" : data.questions[id].title })], { title: data.questions[id].title })));
    const body_ = h("tbody", {}, rows.map((s) => {
      const cell = s.chapters[c.id];
      return h("tr", {},
        h("td", { class: "name sticky" }, h("a", { href: `#student/${encodeURIComponent(s.name)}`, text: s.name })),
        h("td", { class: "num" }, h("b", { text: cell.passed }), h("span", { class: "ko", text: ` / ${cell.total}` })),
        h("td", { class: "num", text: cell.attempts }),
        c.results.length ? h("td", { class: "num", text: `${cell.results_reached} of ${cell.results_total}` }) : null,
        h("td", {}, cell.completed ? h("span", { class: "badge graded", text: "✓ completed (완료)" }) : h("span", { class: "ko", text: "—" })),
        h("td", {}, timeEl(cell.last_at)),
        h("td", {}, gradedLine(cell.graded) || h("span", { class: "ko", text: "—" })),
        qs.map((id) => h("td", {}, questionMark(id, s.questions[id], data.questions[id].kind))));
    }));
    const foot = h("tfoot", {}, h("tr", {},
      h("td", { class: "sticky" }, h("b", { text: "Totals" }), " ", h("span", { class: "ko", text: "(합계)" })),
      h("td", { class: "num", text: t ? `${t.passed_mean.toFixed(1)} avg` : "" }),
      h("td", { class: "num", text: t ? t.attempts : "" }),
      c.results.length ? h("td", {}) : null,
      h("td", { text: t ? `${t.completed} of ${t.students}` : "" }),
      h("td", { text: t ? `${t.active} active` : "" }),
      h("td", { text: t && t.graded ? `${t.graded_passed_mean.toFixed(1)} avg` : "" }),
      qs.map((id) => {
        const passed = data.students.filter((s) => s.questions[id] && s.questions[id].passed).length;
        return h("td", { text: `${passed} of ${data.students.length}` });
      })));
    return h("section", {},
      h("div", { class: "crumbs" }, h("a", { href: "#", text: "Class (반 전체)" }), " › ", `Chapter ${c.id}`),
      h("div", { class: "view-head" }, h("h1", { text: `Chapter ${c.id}` }), h("span", { class: "sub", text: c.title }),
        h("span", { class: "sub", text: `${c.exercises.length} exercises (연습 문제)` + (c.results.length ? ` · ${c.results.length} figures (결과)` : "") })),
      t ? h("div", { class: "stats" },
        statBox(`${t.passed_mean.toFixed(1)} / ${t.total}`, "Exercises passed, mean", "평균 통과"),
        statBox(`${t.completed} of ${t.students}`, "Completed the chapter", "챕터 완료"),
        statBox(t.active, "Students who started", "시작한 학생"),
        statBox(t.attempts, "Attempts", "시도 횟수"),
        statBox(t.graded ? `${t.graded_passed_mean.toFixed(1)} / ${t.total}` : "—", "Graded, mean", "채점 평균")) : null,
      h("div", { class: "toolbar" }, search, h("span", { class: "grow" }),
        h("button", { class: "btn", type: "button", onclick: () => { ui.gradeOpen = true; ui.gradeChapters = new Set([c.id]); location.hash = ""; } },
          ...label(`Grade chapter ${c.id}…`, "채점"))),
      h("div", { class: "table-wrap", "data-scroll": `chapter-${c.id}` }, h("table", { class: "grid", id: "chapter-table" }, h("thead", {}, head), body_, foot)),
      h("div", { class: "legend" }, h("span", {}, h("span", { class: "mark pass", text: "✓2" }), " passed, 2 tries (통과)"),
        h("span", {}, h("span", { class: "mark fail", text: "✗3" }), " not yet, 3 tries (미통과)"),
        h("span", {}, h("span", { class: "mark none", text: "·" }), " not tried (시도 안 함)")));
  }

  // -- one student -----------------------------------------------------------------------------------------
  function studentView(s) {
    const totalChapters = data.chapters.filter((c) => c.exercises.length || c.results.length).length;
    const cards = data.chapters.map((c) => {
      const cell = s.chapters[c.id] || { passed: 0, total: c.exercises.length, attempts: 0, results_reached: 0, results_total: c.results.length, completed: false, last_at: null, graded: null };
      const items = [...c.exercises, ...c.results].map((id) => {
        const q = data.questions[id];
        const record = s.questions[id];
        return h("li", { class: q.kind === "result" ? "result" : null },
          h("span", { class: "q" }, h("span", { class: "qid", text: id }), h("span", { class: "qt", title: q.title, text: q.title })),
          h("span", {}, questionMark(id, record, q.kind)),
          h("span", { class: "meta" }, record && record.last_at ? timeEl(record.last_at) : ""));
      });
      const g = cell.graded;
      return h("article", { class: `card ${cell.completed ? "done" : ""}`, "data-chapter": c.id },
        h("h3", {}, INSTRUCTOR ? h("a", { href: `#chapter/${c.id}`, text: `Chapter ${c.id}` }) : `Chapter ${c.id}`, h("span", { class: "title", text: c.title })),
        h("div", { class: "summary" },
          h("span", {}, h("b", { text: `${cell.passed}/${cell.total}` }), " ", label1("exercises passed", "통과한 연습 문제")),
          h("span", {}, h("b", { text: cell.attempts }), " ", label1("attempts", "시도")),
          cell.results_total ? h("span", {}, cell.completed ? label1("chapter completed", "챕터 완료")
            : `${label1("figures reached", "도달한 결과")} ${cell.results_reached} of ${cell.results_total}`) : null,
          cell.completed ? h("span", { class: "badge graded", text: "✓ completed (완료)" }) : null,
          h("span", {}, timeEl(cell.last_at))),
        h("div", { class: "bar" }, h("i", { style: `width:${pct(cell.passed, cell.total)}%` })),
        g ? h("div", { class: "graded-box" }, h("b", {}, label1("Graded", "채점")), " ", gradedLine(g) || "—") : null,
        h("ul", {}, items));
    });
    const mine = s.name === VIEWER && !INSTRUCTOR;
    return h("section", {},
      INSTRUCTOR ? h("div", { class: "crumbs" }, h("a", { href: "#", text: "Class (반 전체)" }), " › ", s.name) : null,
      h("div", { class: "view-head" }, h("h1", {}, ...(mine ? label("Your results", "나의 결과") : [s.name])),
        h("span", { class: "sub" }, "Last activity (최근 활동) ", timeEl(s.last_at))),
      h("div", { class: "stats" },
        statBox(`${s.passed} / ${s.total || data.chapters.reduce((n, c) => n + c.exercises.length, 0)}`, "Exercises passed", "통과한 연습 문제"),
        statBox(`${s.completed} / ${totalChapters}`, "Chapters completed", "완료한 챕터"),
        statBox(s.attempts, "Attempts", "시도 횟수")),
      h("div", { class: "cards" }, cards),
      h("div", { class: "legend" }, h("span", {}, h("span", { class: "mark pass", text: "✓2" }), " passed, 2 tries (통과)"),
        h("span", {}, h("span", { class: "mark fail", text: "✗3" }), " not yet (미통과)"),
        data.chapters.some((c) => c.results.length)
          ? h("span", {}, "◆ ", label1("a figure the chapter reaches when it runs to the end", "챕터 결과")) : null));
  }

  // -- one question ------------------------------------------------------------------------------------------
  function questionView(id) {
    const q = data.questions[id];
    const c = chapterById(q.chapter);
    const rows = sortRows(filterRows(data.students), (s, key) => {
      const r = s.questions[id];
      if (key === "name") return s.name;
      if (key === "passed") return r ? (r.passed ? 2 : r.attempts ? 1 : 0) : 0;
      if (key === "attempts") return r ? r.attempts : 0;
      if (key === "last") return r ? r.last_at : null;
      if (key === "graded") return r && r.graded !== null ? (r.graded ? 1 : 0) : null;
      return null;
    });
    const records = data.students.map((s) => s.questions[id]).filter(Boolean);
    const graded = records.filter((r) => r.graded !== null && r.graded !== undefined);
    const head = h("tr", {},
      sortable("name", head2("Student", "학생"), { class: "sticky" }),
      sortable("passed", head2(q.kind === "result" ? "Reached" : "Passed", "통과")),
      sortable("attempts", head2("Attempts", "시도"), { class: "num" }),
      sortable("last", head2("Last attempt", "최근 시도")),
      sortable("graded", head2("Graded", "채점")));
    const body_ = h("tbody", {}, rows.map((s) => {
      const r = s.questions[id];
      return h("tr", {},
        h("td", { class: "name sticky" }, h("a", { href: `#student/${encodeURIComponent(s.name)}`, text: s.name })),
        h("td", {}, !r || !r.attempts ? h("span", { class: "mark none", text: "not tried (시도 안 함)" })
          : r.passed ? h("span", { class: "mark pass", text: "✓ passed (통과)" }) : h("span", { class: "mark fail", text: "✗ not yet (미통과)" })),
        h("td", { class: "num", text: r ? r.attempts : 0 }),
        h("td", {}, timeEl(r && r.last_at)),
        h("td", {}, !r || r.graded === null || r.graded === undefined ? h("span", { class: "ko", text: "—" })
          : h("span", { class: `mark ${r.graded ? "pass" : "fail"}`, text: r.graded ? "✓ passed" : "✗ failed" })));
    }));
    return h("section", {},
      h("div", { class: "crumbs" }, h("a", { href: "#", text: "Class (반 전체)" }), " › ",
        h("a", { href: `#chapter/${q.chapter}`, text: `Chapter ${q.chapter}` }), " › ", id),
      h("div", { class: "view-head" }, h("h1", { text: q.title }),
        h("span", { class: "sub", text: `${id} · ${q.kind === "result" ? "chapter figure (챕터 결과)" : "exercise (연습 문제)"}${c && c.title ? " · " + c.title : ""}` })),
      h("div", { class: "stats" },
        statBox(`${records.filter((r) => r.passed).length} of ${data.students.length}`, q.kind === "result" ? "Reached by" : "Passed by", "통과한 학생"),
        statBox(`${records.filter((r) => r.attempts).length} of ${data.students.length}`, "Tried by", "시도한 학생"),
        statBox(records.reduce((n, r) => n + r.attempts, 0), "Attempts", "시도 횟수"),
        statBox(graded.length ? `${graded.filter((r) => r.graded).length} of ${graded.length}` : "—", "Graded passed", "채점 통과")),
      h("div", { class: "table-wrap", "data-scroll": `question-${id}` }, h("table", { class: "grid", id: "question-table" }, h("thead", {}, head), body_)));
  }

  // -- start -------------------------------------------------------------------------------------------------
  window.addEventListener("resize", fitTables);
  app.addEventListener("focusout", () => { if (renderLater) setTimeout(render, 0); });
  window.addEventListener("hashchange", () => { ui.sort = { key: "name", dir: 1 }; render(); window.scrollTo(0, 0); });
  document.getElementById("auto-refresh").addEventListener("change", (e) => { if (e.target.checked) refresh(); startTimer(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden && timer) refresh(); });
  refresh().then(startTimer);
})();

/* Review queue and learning: accept / reject segments by click or key, in bulk, with undo;
   re-learn after a batch and show how precision / recall moved. Talks to the JSON API with the
   session's CSRF token (data-csrf). Keys: arrows move, a accept, r reject, space select, u undo. */
(function () {
  "use strict";
  var holder = document.querySelector("[data-csrf]");
  if (!holder) { return; }
  var csrf = holder.dataset.csrf;
  var grid = document.getElementById("review-grid");
  var history = [];  // segment ids judged here, newest last
  var undoButton = document.querySelector("[data-undo]");
  var learnButton = document.querySelector("[data-learn]");
  var count = document.querySelector(".review-count");
  var result = document.querySelector(".learn-result");

  function call(method, url, body) {
    return fetch(url, {method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (data) {
        if (!r.ok) { throw new Error(data.error || r.statusText); } return data; }); });
  }

  function cards() { return grid ? Array.prototype.slice.call(grid.querySelectorAll(".review-card")) : []; }
  function card(id) { return grid.querySelector('.review-card[data-segment="' + id + '"]'); }

  function show(id, state) {
    var c = card(id);
    if (!c) { return; }
    c.classList.remove("accepted", "rejected", "selected");
    if (state) { c.classList.add(state); }
    c.querySelector(".review-state").textContent = state ? (state === "accepted" ? "accepted" : "rejected") : "";
  }

  function judged() {
    if (undoButton) { undoButton.disabled = history.length === 0; }
    if (count) { count.textContent = history.length ? history.length + " judged here" : ""; }
    if (learnButton && history.length) { learnButton.hidden = false; }
  }

  function run(actions) {
    return call("POST", "/api/review/batch", {actions: actions}).then(function (data) {
      data.segments.forEach(function (s, i) {
        var act = actions[i].action;
        if (act === "undo") { show(s.id, null); } else { show(s.id, act === "accept" ? "accepted" : "rejected"); history.push(s.id); }
      });
      judged();
    }).catch(function (err) { if (result) { result.textContent = "Not saved: " + err.message; } });
  }

  function judge(ids, action) {
    if (ids.length) { run(ids.map(function (id) { return {segment_id: parseInt(id, 10), action: action}; })); }
  }

  function undo() {
    var id = history.pop();
    if (id !== undefined) { run([{segment_id: id, action: "undo"}]).then(judged); }
  }

  function pct(x) { return (100 * x).toFixed(1) + "%"; }

  function learn(category) {
    if (result) { result.textContent = "Learning…"; }
    call("POST", "/api/learn", category ? {category: category} : {}).then(function (data) {
      var adopted = data.categories.filter(function (c) { return c.status === "adopted"; });
      var moved = adopted.map(function (c) {
        var z = c.held_out.zero_shot, l = c.held_out.learned;
        return c.category + ": precision " + pct(z.precision) + " → " + pct(l.precision) +
          ", recall " + pct(z.recall) + " → " + pct(l.recall);
      });
      var text = adopted.length ? "Adopted (held-out, zero-shot → learned) " + moved.join("; ") + "." :
        "No model adopted (zero-shot is as good, or too few judged frames). Precision " + pct(data.after.precision) +
        ", recall " + pct(data.after.recall) + " on the judged frames.";
      if (result) { result.textContent = text; }
    }).catch(function (err) { if (result) { result.textContent = "Not learned: " + err.message; } });
  }

  document.querySelectorAll("[data-learn]").forEach(function (b) {
    b.addEventListener("click", function () { learn(b.dataset.learn); });
  });
  document.querySelectorAll("[data-rollback]").forEach(function (b) {
    b.addEventListener("click", function () {
      call("POST", "/api/learn/rollback").then(function (data) {
        if (result) { result.textContent = "Rolled back version " + data.rolled_back + "; reload to see the figures."; }
      }).catch(function (err) { if (result) { result.textContent = err.message; } });
    });
  });
  if (undoButton) { undoButton.addEventListener("click", undo); }
  document.querySelectorAll("[data-bulk]").forEach(function (b) {
    b.addEventListener("click", function () {
      judge(cards().filter(function (c) { return c.classList.contains("selected"); })
        .map(function (c) { return c.dataset.segment; }), b.dataset.bulk);
    });
  });
  if (!grid) { return; }
  grid.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-act]");
    if (button) { judge([button.closest(".review-card").dataset.segment], button.dataset.act); }
  });
  grid.addEventListener("keydown", function (event) {
    var c = event.target.closest(".review-card");
    if (!c) { return; }
    var all = cards(), i = all.indexOf(c), key = event.key;
    if (key === "ArrowRight" || key === "ArrowDown") { (all[i + 1] || c).focus(); }
    else if (key === "ArrowLeft" || key === "ArrowUp") { (all[i - 1] || c).focus(); }
    else if (key === "a") { judge([c.dataset.segment], "accept"); (all[i + 1] || c).focus(); }
    else if (key === "r") { judge([c.dataset.segment], "reject"); (all[i + 1] || c).focus(); }
    else if (key === " ") { c.classList.toggle("selected"); }
    else if (key === "u") { undo(); }
    else { return; }
    event.preventDefault();
  });
  var first = cards()[0];
  if (first) { first.focus(); }
})();

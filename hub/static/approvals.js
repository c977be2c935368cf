// The approval page (hub/templates/authorization-area.html): filter rows by user name, select all
// (visible) waiting accounts, and show how many are selected on the Approve / Discard buttons.
(function () {
  "use strict";
  var filter = document.getElementById("course-filter");
  var all = document.getElementById("course-select-all");
  var approve = document.getElementById("course-approve-selected");
  var discard = document.getElementById("course-discard-selected");
  var approved = document.getElementById("course-approved-list");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input.course-select"));
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-name]"));

  function visible(box) {
    return !box.closest("tr").hidden;
  }

  function update() {
    var chosen = boxes.filter(function (box) { return box.checked; }).length;
    if (approve) {
      approve.textContent = "Approve selected (" + chosen + ")";
      approve.disabled = chosen === 0;
      discard.textContent = "Discard selected (" + chosen + ")";
      discard.disabled = chosen === 0;
    }
    if (all) {
      var shown = boxes.filter(visible);
      all.checked = shown.length > 0 && shown.every(function (box) { return box.checked; });
    }
  }

  if (filter) {
    filter.addEventListener("input", function () {
      var text = filter.value.trim().toLowerCase();
      rows.forEach(function (row) {
        row.hidden = text !== "" && row.dataset.name.toLowerCase().indexOf(text) < 0;
      });
      boxes.forEach(function (box) { if (!visible(box)) { box.checked = false; } });
      if (text !== "" && approved) { approved.open = true; }
      update();
    });
  }
  if (all) {
    all.addEventListener("change", function () {
      boxes.filter(visible).forEach(function (box) { box.checked = all.checked; });
      update();
    });
  }
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
}());

// Theme: automatic (the OS decides), light or dark. Loaded synchronously in <head> so a saved
// choice applies before the first paint; the toggle in the top bar cycles through the three.
(function () {
  "use strict";
  var KEY = "rs-theme";
  var ORDER = ["auto", "light", "dark"];
  var LABELS = { auto: "◐", light: "☀", dark: "☾" };
  var root = document.documentElement;

  function read() {
    try { return localStorage.getItem(KEY) || "auto"; } catch (e) { return "auto"; }
  }
  function apply(theme) {
    if (theme === "light" || theme === "dark") root.dataset.theme = theme;
    else delete root.dataset.theme;
  }
  apply(read());

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    function label(theme) {
      button.textContent = LABELS[theme];
      button.setAttribute("aria-label", "Theme: " + (theme === "auto" ? "automatic" : theme) + ". Switch theme");
    }
    label(read());
    button.addEventListener("click", function () {
      var next = ORDER[(ORDER.indexOf(read()) + 1) % ORDER.length];
      try {
        if (next === "auto") localStorage.removeItem(KEY); else localStorage.setItem(KEY, next);
      } catch (e) { /* private mode: the choice lasts for this page only */ }
      apply(next);
      label(next);
    });
  });
})();

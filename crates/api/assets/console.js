// The console's one script. Pages work without it; it adds live updates to the
// elements marked `data-live="<url of an SSE stream>"`: each message names a
// fragment URL whose HTML replaces the element, so a running flow run's page
// follows the run without reloading.
(function () {
  'use strict';
  document.querySelectorAll('[data-live]').forEach(function (el) {
    if (!window.EventSource) return;
    var source = new EventSource(el.getAttribute('data-live'));
    var busy = false;
    source.onmessage = function () {
      if (busy) return;
      busy = true;
      fetch(el.getAttribute('data-fragment'), { credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null) el.innerHTML = html;
          if (el.querySelector('[data-final]')) source.close();
        })
        .finally(function () { busy = false; });
    };
    source.onerror = function () {
      if (el.querySelector('[data-final]')) source.close();
    };
  });
  // Confirm buttons that do something hard to undo.
  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (e) {
      if (!window.confirm(form.getAttribute('data-confirm'))) e.preventDefault();
    });
  });
})();

// Keyboard shortcuts of the dashboard (progressive enhancement: every page works without this file).
//   /  focuses the page's search field       n  opens the page's new-item form       ?  lists the shortcuts
// Loaded from this origin only (the CSP allows no inline script); keys typed into a field are left alone.
(function () {
  'use strict';
  var dialog = document.getElementById('shortcuts');

  function typing(target) {
    if (!target || !target.closest) return false;
    return !!target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]');
  }

  function openShortcuts() {
    if (dialog && typeof dialog.showModal === 'function' && !dialog.open) dialog.showModal();
  }

  function openNew() {
    var target = document.querySelector('[data-shortcut-new]');
    if (!target) return false;
    if (target.tagName === 'A') {
      target.click();
      return true;
    }
    if (target.tagName === 'DETAILS') target.open = true;
    var field = target.querySelector('input:not([type="hidden"]), select, textarea') || target;
    field.focus();
    if (target.scrollIntoView) target.scrollIntoView({ block: 'nearest' });
    return true;
  }

  document.addEventListener('keydown', function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target) || (dialog && dialog.open)) return;
    if (event.key === '/') {
      var search = document.querySelector('[data-shortcut-search]');
      if (search) {
        event.preventDefault();
        search.focus();
        if (search.select) search.select();
      }
    } else if (event.key === 'n') {
      if (openNew()) event.preventDefault();
    } else if (event.key === '?') {
      event.preventDefault();
      openShortcuts();
    }
  });

  var opener = document.getElementById('shortcuts-open');
  if (opener) {
    opener.hidden = false;
    opener.addEventListener('click', openShortcuts);
  }
  var closer = document.getElementById('shortcuts-close');
  if (closer && dialog) closer.addEventListener('click', function () { dialog.close(); });
})();

// Sends the browser on: submits the page's form as soon as it loads (the
// 3-D Secure challenge page, whose form posts to the ACS). A file of its
// own, not an inline script, so that no page of the switch needs inline
// script allowed by its Content-Security-Policy.
(function () {
  'use strict';
  var form = document.querySelector('form[data-autosubmit]');
  if (form) { form.submit(); }
})();

// Hosted payment page: formats and checks card data as it is typed. The
// server checks everything again; the page works without this script.
(function () {
  'use strict';
  var form = document.getElementById('payform');
  if (!form) { return; }
  var pan = form.elements.pan, exp = form.elements.expiry, cvv = form.elements.cvv2,
      holder = form.elements.holder, email = form.elements.email,
      badge = document.getElementById('brand'), pay = document.getElementById('pay');
  var names = { visa: 'VISA', mastercard: 'Mastercard', mir: 'МИР', amex: 'AMEX', unionpay: 'UnionPay',
                jcb: 'JCB', discover: 'Discover', diners: 'Diners Club' };
  // marks are the brands' short forms, which the badge shows on screens
  // too narrow for a name beside a 19-digit number (hpp.css).
  var marks = { visa: 'VISA', mastercard: 'MC', mir: 'МИР', amex: 'AMEX', unionpay: 'UPI',
                jcb: 'JCB', discover: 'DISC', diners: 'DC' };

  // brands is the server's brand table (routing.BrandOf's), put in the form:
  // [[digits, lo, hi, brand], ...], shortest prefix first. This script keeps
  // no table of its own. Without one it judges no brand: the server does.
  var brands = [], longest = 0;
  try { brands = JSON.parse(form.getAttribute('data-brands') || '[]'); } catch (e) { brands = []; }
  brands.forEach(function (r) { longest = Math.max(longest, r[0]); });

  function digits(s) { return s.replace(/\D/g, ''); }

  // brand reads the table as routing.BrandOf does: for the shortest prefix
  // length n that has one, the row of length n whose range holds the first
  // n digits.
  function brand(d) {
    for (var n = 1; n <= d.length && n <= longest; n++) {
      var v = +d.slice(0, n);
      for (var i = 0; i < brands.length; i++) {
        if (brands[i][0] === n && brands[i][1] <= v && v <= brands[i][2]) { return brands[i][3]; }
      }
    }
    return '';
  }

  function luhn(d) {
    var sum = 0;
    for (var i = 0; i < d.length; i++) {
      var n = +d.charAt(d.length - 1 - i);
      if (i % 2 === 1) { n *= 2; if (n > 9) { n -= 9; } }
      sum += n;
    }
    return sum % 10 === 0;
  }

  function panLength(b) { return b === 'amex' ? 15 : b === 'mir' || b === 'unionpay' ? 19 : 16; }

  function formatPAN(d, b) {
    if (b === 'amex') {
      return [d.slice(0, 4), d.slice(4, 10), d.slice(10, 15)].filter(Boolean).join(' ');
    }
    return (d.match(/.{1,4}/g) || []).join(' ');
  }

  // show marks a field valid or not and says why.
  function show(input, msgAttr) {
    var field = input.closest('.field'), err = document.getElementById(input.id + '-err');
    if (msgAttr) {
      field.classList.add('invalid');
      input.setAttribute('aria-invalid', 'true');
      err.textContent = err.getAttribute(msgAttr);
    } else {
      field.classList.remove('invalid');
      input.removeAttribute('aria-invalid');
      err.textContent = '';
    }
  }

  // keepCaret rewrites an input's value without throwing the caret to the
  // end: it stays after the same number of digits.
  function keepCaret(input, value) {
    var before = digits(input.value.slice(0, input.selectionStart || 0)).length;
    input.value = value;
    var pos = 0, seen = 0;
    while (pos < value.length && seen < before) {
      if (/\d/.test(value.charAt(pos))) { seen++; }
      pos++;
    }
    if (document.activeElement === input) { input.setSelectionRange(pos, pos); }
  }

  function checkPAN(final) {
    var d = digits(pan.value), b = brand(d);
    badge.textContent = names[b] || '';
    badge.setAttribute('data-short', marks[b] || '');
    badge.className = 'brand ' + b;
    cvv.maxLength = b === 'amex' ? 4 : 3;
    cvv.placeholder = b === 'amex' ? '••••' : '•••';
    var complete = d.length >= panLength(b) || (final && d.length >= 13);
    if (!complete) { show(pan, final ? 'data-msg' : null); return false; }
    if (d.length >= 2 && !b && brands.length) { show(pan, 'data-msg-brand'); return false; }
    if (d.length < 13 || !luhn(d)) { show(pan, 'data-msg'); return false; }
    show(pan, null);
    return true;
  }

  function checkExpiry(final) {
    var d = digits(exp.value);
    if (d.length < 4) { show(exp, final ? 'data-msg' : null); return false; }
    var mm = +d.slice(0, 2), yy = +d.slice(2, 4);
    if (mm < 1 || mm > 12) { show(exp, 'data-msg'); return false; }
    var now = new Date(), y = now.getFullYear() % 100, m = now.getMonth() + 1;
    if (yy < y || (yy === y && mm < m)) { show(exp, 'data-msg-expired'); return false; }
    show(exp, null);
    return true;
  }

  function checkCVV(final) {
    var d = digits(cvv.value), want = brand(digits(pan.value)) === 'amex' ? 4 : 3;
    if (d.length < want) { show(cvv, final ? 'data-msg' : null); return false; }
    show(cvv, d.length === want ? null : 'data-msg');
    return d.length === want;
  }

  function checkHolder(final) {
    var v = holder.value.trim();
    var ok = v.length <= 45 && /^[\p{L} .'\-]*$/u.test(v) && (v.replace(/[^\p{L}]/gu, '').length >= 2);
    show(holder, ok || (!final && v.length < 2) ? null : 'data-msg');
    return ok;
  }

  function checkEmail() {
    var v = email.value.trim();
    var ok = v === '' || /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v);
    show(email, ok ? null : 'data-msg');
    return ok;
  }

  pan.addEventListener('input', function () {
    var d = digits(pan.value), b = brand(d);
    d = d.slice(0, b === 'amex' ? 15 : 19);
    keepCaret(pan, formatPAN(d, b));
    checkPAN(false);
  });
  pan.addEventListener('blur', function () { if (pan.value) { checkPAN(true); } });

  exp.addEventListener('input', function (e) {
    var d = digits(exp.value).slice(0, 4);
    if (d.length === 1 && d > '1') { d = '0' + d; }
    var deleting = e.inputType && e.inputType.indexOf('delete') === 0;
    var v = d.length > 2 ? d.slice(0, 2) + '/' + d.slice(2) : (d.length === 2 && !deleting ? d + '/' : d);
    keepCaret(exp, v);
    if (d.length === 4) { checkExpiry(true); } else { show(exp, null); }
  });
  exp.addEventListener('blur', function () { if (exp.value) { checkExpiry(true); } });

  cvv.addEventListener('input', function () {
    cvv.value = digits(cvv.value).slice(0, cvv.maxLength);
    show(cvv, null);
  });
  cvv.addEventListener('blur', function () { if (cvv.value) { checkCVV(true); } });
  holder.addEventListener('blur', function () { if (holder.value) { checkHolder(true); } });
  email.addEventListener('blur', checkEmail);

  form.addEventListener('submit', function (e) {
    var ok = [checkPAN(true), checkExpiry(true), checkCVV(true), checkHolder(true), checkEmail()];
    var first = [pan, exp, cvv, holder, email][ok.indexOf(false)];
    if (first) {
      e.preventDefault();
      first.focus();
      return;
    }
    // One payment per click: a second submit would only meet "order not
    // awaiting payment", but a buyer should not see that.
    pay.disabled = true;
  });
}());

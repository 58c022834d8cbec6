// Package hpp is the hosted payment page: the only web page of the switch
// that sees a card number. A merchant registers an order through the web
// service and sends the buyer to its formUrl, /pay/{orderId}; the buyer
// types the card there, passes 3-D Secure at the issuer's ACS when asked,
// and is sent back to the merchant's return or fail URL with orderId.
//
// What it owns: the form (kk, ru, en; works without JavaScript and on a
// 360-pixel phone), its CSRF protection, the redirect to the ACS, the
// return from it, and the result page.
//
// What it must never do:
//   - log, store or echo card data. The card goes from the parsed form
//     straight into payments.Service.Pay; logs carry the order id, the
//     masked PAN and the outcome only; request bodies are never logged; a
//     form re-rendered after an error never contains the PAN or CVV2;
//   - redirect anywhere the request names: result pages send the buyer to
//     the order's own ReturnURL or FailURL (set by the merchant at
//     registration), never to a URL taken from a query or a form;
//   - trust the browser about 3-D Secure: the ACS's POST back only says
//     which order to look at; the result is fetched server to server by
//     payments.Service.ThreeDSComplete;
//   - touch bank links, store-and-forward or bbolt: it speaks only to
//     payments (DESIGN.md's layer 4);
//   - keep its own card rules: a card number is checked with iso.ValidPAN
//     and its brand read with routing.BrandOf, the module's one BIN table;
//     the script's brand badge reads the same table (routing.BrandTable),
//     which the form carries in its data-brands attribute.
//
// CSRF. The GET of the form sets a random nonce in a cookie scoped to
// /pay/{orderId} (HttpOnly, SameSite=Strict, Secure under https) and puts
// HMAC-SHA256(Config.Secret, orderId "|" nonce) in a hidden field. A card
// POST without the cookie, or whose field does not match, is refused with
// 403 before anything reaches payments. Another site can neither read the
// field (same-origin policy, X-Frame-Options DENY) nor make the browser
// send the cookie (SameSite=Strict), and a token for one order is useless
// for another.
//
// The return from the ACS, POST /pay/{orderId}/3ds, carries no token, on
// purpose: it arrives as a cross-site POST from the issuer's ACS page, so a
// SameSite=Strict cookie is not sent with it, and the ACS could not echo a
// field of ours anyway. It needs none: it carries no card data and no
// decision, and only makes the switch ask the Directory Server, server to
// server, what the outcome of the order's own authentication was. A forged
// POST can at worst make that question early, and a repeated one finds the
// order already decided and just shows its result.
package hpp

package cnp

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// soapVersion is the SOAP version of one exchange: the answer speaks the
// request's.
type soapVersion int

const (
	soap11 soapVersion = iota + 1
	soap12
	// plainXML is the WSDL's HTTP binding: the wrapper element itself is
	// the body, with no envelope.
	plainXML
)

func (v soapVersion) String() string {
	switch v {
	case soap11:
		return "1.1"
	case soap12:
		return "1.2"
	case plainXML:
		return "xml"
	}
	return "unknown"
}

// fault is a protocol error: the request could not be understood as a
// call of one of the service's operations. Business outcomes are never
// faults (the vendor's sample pages die on one).
type fault struct {
	// sender is true when the request is at fault (SOAP 1.1 Client, SOAP
	// 1.2 Sender), false when the service is (Server, Receiver).
	sender bool
	// code overrides the fault code: "VersionMismatch" or "MustUnderstand".
	code   string
	reason string
	// status is the HTTP status; 0 means the SOAP binding's (500, or 400
	// for a SOAP 1.2 Sender fault).
	status int
}

func (f *fault) Error() string { return f.reason }

func clientFault(format string, a ...any) *fault {
	return &fault{sender: true, reason: fmt.Sprintf(format, a...)}
}

// readVersion tells the SOAP version from the Content-Type, and returns
// the action it carries. On the WSDL's HTTP binding (plain) the body is
// XML without an envelope, sent as text/xml or application/xml.
func readVersion(r *http.Request, plain bool) (soapVersion, string, *fault) {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return 0, "", &fault{sender: true, status: http.StatusUnsupportedMediaType,
			reason: "Content-Type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return 0, "", &fault{sender: true, status: http.StatusUnsupportedMediaType, reason: "charset " + cs + " is not accepted: send UTF-8"}
	}
	switch {
	case plain && (mt == "text/xml" || mt == "application/xml"):
		return plainXML, "", nil
	case plain:
		return 0, "", &fault{sender: true, status: http.StatusUnsupportedMediaType,
			reason: "Content-Type " + mt + " is not accepted here: text/xml or application/xml"}
	case mt == "text/xml":
		return soap11, actionName(r.Header.Get("SOAPAction")), nil
	case mt == "application/soap+xml":
		return soap12, actionName(params["action"]), nil
	}
	return 0, "", &fault{sender: true, status: http.StatusUnsupportedMediaType,
		reason: "Content-Type " + mt + " is not accepted: text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)"}
}

// actionName is the operation an action names: "urn:getVersion",
// "\"urn:getVersion\"", "getVersion" and a URI ending in "/getVersion" all
// name getVersion.
func actionName(a string) string {
	a = strings.Trim(strings.TrimSpace(a), `"`)
	if i := strings.LastIndexAny(a, ":/#"); i >= 0 {
		a = a[i+1:]
	}
	return a
}

// readEnvelope checks the parsed document is an envelope of version v and
// returns its Body's element. A header block the client says must be
// understood is refused: the service understands none.
func readEnvelope(root *node, v soapVersion) (*node, *fault) {
	if v == plainXML {
		return root, nil
	}
	want := nsSOAP11
	if v == soap12 {
		want = nsSOAP12
	}
	switch {
	case root.name.Local != "Envelope":
		return nil, clientFault("the document is not a SOAP Envelope (root element %s)", root.name.Local)
	case root.name.Space != want:
		return nil, &fault{code: "VersionMismatch", reason: fmt.Sprintf("the Envelope's namespace %q is not SOAP %s's, which the Content-Type announced", root.name.Space, v)}
	}
	var body *node
	for i, k := range root.kids {
		switch {
		case k.name.Space == want && k.name.Local == "Header" && i == 0:
			for _, h := range k.kids {
				if mu, _ := h.attr(want, "mustUnderstand"); strings.TrimSpace(mu) == "1" || strings.TrimSpace(mu) == "true" {
					return nil, &fault{code: "MustUnderstand", reason: "header " + h.name.Local + " must be understood, and this service understands no header"}
				}
			}
		case k.name.Space == want && k.name.Local == "Body" && body == nil:
			body = k
		default:
			return nil, clientFault("unexpected element %s in the Envelope", k.name.Local)
		}
	}
	if body == nil {
		return nil, clientFault("the Envelope has no Body")
	}
	switch len(body.kids) {
	case 0:
		return nil, nil
	case 1:
		return body.kids[0], nil
	}
	return nil, clientFault("the Body holds %d elements; document/literal wrapped takes one", len(body.kids))
}

// xmlWriter writes an answer: the service's elements in WSDL order with
// the vendor's prefixes, text escaped.
type xmlWriter struct{ bytes.Buffer }

func (w *xmlWriter) open(name string, attrs ...string) {
	w.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.WriteString(" " + attrs[i] + `="`)
		xml.EscapeText(w, []byte(attrs[i+1]))
		w.WriteString(`"`)
	}
	w.WriteString(">")
}

func (w *xmlWriter) close(name string) { w.WriteString("</" + name + ">") }

// leaf writes <name>value</name>.
func (w *xmlWriter) leaf(name, value string) {
	w.open(name)
	_ = xml.EscapeText(w, []byte(value))
	w.close(name)
}

// nilLeaf writes <name xsi:nil="true"/>; xsi must be declared above.
func (w *xmlWriter) nilLeaf(name string) { w.WriteString("<" + name + ` xsi:nil="true"/>`) }

// optLeaf writes name only when value is not empty.
func (w *xmlWriter) optLeaf(name, value string) {
	if value != "" {
		w.leaf(name, value)
	}
}

// envelopeOf wraps a response element in the version's envelope.
func envelopeOf(v soapVersion, body []byte) []byte {
	var w xmlWriter
	w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	switch v {
	case plainXML:
		w.Write(body)
		return w.Bytes()
	case soap12:
		w.WriteString(`<soapenv:Envelope xmlns:soapenv="` + nsSOAP12 + `"><soapenv:Body>`)
	default:
		w.WriteString(`<soapenv:Envelope xmlns:soapenv="` + nsSOAP11 + `"><soapenv:Body>`)
	}
	w.Write(body)
	w.WriteString(`</soapenv:Body></soapenv:Envelope>`)
	return w.Bytes()
}

// faultBody is f as the version's Fault element, and its HTTP status.
func faultBody(v soapVersion, f *fault) (int, []byte) {
	var w xmlWriter
	status := f.status
	if v == soap12 {
		code := "Receiver"
		if f.sender {
			code = "Sender"
		}
		if f.code != "" {
			code = f.code
		}
		if status == 0 {
			status = http.StatusInternalServerError
			if code == "Sender" {
				status = http.StatusBadRequest
			}
		}
		w.WriteString(`<soapenv:Fault><soapenv:Code><soapenv:Value>soapenv:` + code + `</soapenv:Value></soapenv:Code>`)
		w.WriteString(`<soapenv:Reason><soapenv:Text xml:lang="en">`)
		_ = xml.EscapeText(&w, []byte(f.reason))
		w.WriteString(`</soapenv:Text></soapenv:Reason></soapenv:Fault>`)
		return status, envelopeOf(v, w.Bytes())
	}
	code := "Server"
	if f.sender {
		code = "Client"
	}
	if f.code != "" {
		code = f.code
	}
	if status == 0 {
		// SOAP 1.1 over HTTP answers every fault 500 (WS-I Basic Profile).
		status = http.StatusInternalServerError
	}
	prefix := "soapenv:"
	if v == plainXML {
		// No envelope: the Fault element carries its namespace itself.
		w.WriteString(`<soapenv:Fault xmlns:soapenv="` + nsSOAP11 + `">`)
	} else {
		w.WriteString(`<soapenv:Fault>`)
	}
	w.leaf("faultcode", prefix+code)
	w.leaf("faultstring", f.reason)
	w.WriteString(`</soapenv:Fault>`)
	return status, envelopeOf(v, w.Bytes())
}

// contentType is the answer's Content-Type in version v; action names the
// response for SOAP 1.2.
func contentType(v soapVersion, action string) string {
	switch v {
	case soap12:
		if action != "" {
			return `application/soap+xml; charset=utf-8; action="urn:` + action + `"`
		}
		return "application/soap+xml; charset=utf-8"
	case plainXML:
		return "application/xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

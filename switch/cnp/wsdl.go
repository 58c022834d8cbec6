package cnp

import (
	"bytes"
	_ "embed"
	"net/http"
	"strings"
)

// The vendor's WSDL, byte for byte as its .NET sample ships it
// (slhome2010/ProcessingKZ @ 7f898ee7, identical to what the live server
// served): clients generated from it must work against this switch after
// changing only the address, so it is served unchanged but for the three
// port addresses, which point at this switch.
//
//go:embed CNPMerchantWebService.wsdl
var vendorWSDL []byte

// vendorBase is where the vendor's addresses start; each port's address is
// this followed by its Axis2 port path.
const vendorBase = "https://test.processing.kz/CNPMerchantWebServices/"

// URL layout: the vendor's, so that a shop changes only the host.
const (
	// servicePath is the service address of the guide (Appendix B) and of
	// the vendor's PHP client's location option.
	servicePath = "/CNPMerchantWebServices/services/CNPMerchantWebService"
	// The WSDL's port addresses (Axis2 names them after the service).
	soap11Path = servicePath + ".CNPMerchantWebServiceHttpsSoap11Endpoint/"
	soap12Path = servicePath + ".CNPMerchantWebServiceHttpsSoap12Endpoint/"
	httpPath   = servicePath + ".CNPMerchantWebServiceHttpsEndpoint/"
	// wsdlPath is where the vendor's PHP client loads the WSDL from.
	wsdlPath = "/CNPMerchantWebServices/CNPMerchantWebService.wsdl"
	// Prefix is the path under which the service lives; the daemon mounts
	// Handler there.
	Prefix = "/CNPMerchantWebServices/"
)

// WSDL returns the vendor's WSDL with its port addresses pointing at base
// (the switch's public URL, no trailing slash).
func WSDL(base string) []byte {
	return bytes.ReplaceAll(vendorWSDL, []byte(vendorBase), []byte(strings.TrimRight(base, "/")+Prefix))
}

// wantsWSDL reports a GET of ?wsdl (any case, as Axis2 takes it).
func wantsWSDL(r *http.Request) bool {
	for k := range r.URL.Query() {
		if strings.EqualFold(k, "wsdl") {
			return true
		}
	}
	return strings.EqualFold(r.URL.RawQuery, "wsdl")
}

// serveWSDL serves the WSDL whose addresses are the listener's the
// request came in on.
func (s *Server) serveWSDL(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	if r.TLS != nil {
		_, _ = w.Write(s.wsdlTLS)
		return
	}
	_, _ = w.Write(s.wsdl)
}

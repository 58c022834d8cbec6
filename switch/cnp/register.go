package cnp

// Card registration (startRegistration, getRegistrationStatus,
// completeRegistration): WSDL only, no guide text.

func (c *call) startRegistration(body *node) error {
	ms, err := readMembers(body, c.op, nsOps, []string{"registration"})
	if err != nil {
		return err
	}
	var t *registrationDetails
	if n := ms.one("registration"); n != nil {
		if t, err = readRegistrationDetails(n, "registration"); err != nil {
			return err
		}
	}
	c.journalRequest(t)
	c.startRefused("", refuse("", "card registration is not enabled"))
	return nil
}

func (c *call) getRegistrationStatus(body *node) error {
	l, err := readLookup(body, c.op)
	if err != nil {
		return err
	}
	c.journalRequest(l)
	c.answer(nilResult(c.op))
	return nil
}

func (c *call) completeRegistration(body *node) error {
	ms, err := readMembers(body, c.op, nsOps, []string{"merchantId", "referenceNr", "registrationSuccess"})
	if err != nil {
		return err
	}
	req := &registrationCompletion{}
	if err := ms.strs("merchantId", &req.MerchantID, "referenceNr", &req.ReferenceNr); err != nil {
		return err
	}
	if req.Success, req.SuccessGiven, err = ms.xsBool("registrationSuccess"); err != nil {
		return err
	}
	c.journalRequest(req)
	c.falseAnswer(refuse("", "card registration is not enabled"))
	return nil
}

package shoppb

// EventType makes the message an outbox.Event: a generated type gets its methods in a
// file of its own package.
func (*ShipmentSent) EventType() string { return "shipment.sent" }

func (*ShipmentSent) AggregateType() string { return "shipment" }

func (s *ShipmentSent) AggregateID() string { return s.GetId() }

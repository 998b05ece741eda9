package outboxschema

import "fmt"

// Subjects is a subject naming strategy: which registry subject holds the schema of a
// topic's values.
type Subjects int

const (
	// TopicName is "<topic>-value": one schema (and its versions) per topic.
	TopicName Subjects = iota
	// RecordName is the record's fully qualified name, whatever the topic: one
	// schema per type, shared by the topics that carry it.
	RecordName
	// TopicRecordName is "<topic>-<record name>": several types on one topic, each
	// with its own versions.
	TopicRecordName
)

// subject names the subject of a value of the record name on topic.
func (s Subjects) subject(topic, name string) string {
	switch s {
	case RecordName:
		return name
	case TopicRecordName:
		return topic + "-" + name
	default:
		return topic + "-value"
	}
}

func (s Subjects) String() string {
	switch s {
	case TopicName:
		return "TopicName"
	case RecordName:
		return "RecordName"
	case TopicRecordName:
		return "TopicRecordName"
	}
	return fmt.Sprintf("Subjects(%d)", int(s))
}

package retention

import (
	"slices"
	"strings"
)

// Preset is a named regulation's retention, for a rule to refer to by
// name instead of restating periods.
type Preset struct {
	// Name is what a rule's preset key says.
	Name string `json:"name"`
	// Min is the least time the regulation keeps records.
	Min Period `json:"min"`
	// Available is how much of Min must stay immediately available (in
	// the hot store, not only in an archive). Zero: the regulation says
	// nothing beyond Min.
	Available Period `json:"available,omitzero"`
	// NeedsMax says the regulation sets no period but a limit the
	// operator must give (the rule's max).
	NeedsMax bool `json:"needs_max,omitempty"`
	// Source is the provision the periods come from.
	Source string `json:"source"`
}

// Presets are the named regulations, as docs/retention.md explains them.
var Presets = []Preset{
	{Name: "hipaa", Min: Period{Months: 6 * 12}, Source: "HIPAA, 45 CFR 164.316(b)(2)(i): six years from creation or last effective date"},
	{Name: "sox", Min: Period{Months: 7 * 12}, Source: "Sarbanes-Oxley §802, SEC 17 CFR 210.2-06: seven years"},
	{Name: "pci-dss", Min: Period{Months: 12}, Available: Period{Months: 3}, Source: "PCI DSS v4.0 requirement 10.5.1: at least twelve months, the last three immediately available"},
	{Name: "soc2", Min: Period{Months: 12}, Source: "SOC 2: no period in the criteria; one year is the common audit-period practice"},
	{Name: "gdpr", NeedsMax: true, Source: "GDPR art. 5(1)(e): personal data kept no longer than necessary; the operator gives max"},
}

// presetNamed returns the preset called name.
func presetNamed(name string) (Preset, bool) {
	i := slices.IndexFunc(Presets, func(p Preset) bool { return p.Name == name })
	if i < 0 {
		return Preset{}, false
	}
	return Presets[i], true
}

// presetNames lists the presets' names for error messages.
func presetNames() string {
	names := make([]string, len(Presets))
	for i, p := range Presets {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

package phi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/telehealth/sessions/internal/phi"
)

func TestScannerFindsEachFormAndIgnoresMasks(t *testing.T) {
	s := phi.NewScanner("Zelda Quintessa Marchbanks", "zelda.marchbanks@example.org",
		"+1 555 867 5309", "Recurring migraines; sumatriptan")
	for _, leak := range []string{
		`{"msg":"x","patient":"Zelda Marchbanks"}`,
		"to=ZELDA.MARCHBANKS@EXAMPLE.ORG",
		"phone 15558675309",
		"call 867-5309? no: 8675309",
		"notes: sumatriptan",
	} {
		assert.NotEmpty(t, s.Scan("line", []byte(leak)), leak)
	}
	for _, clean := range []string{
		phi.MaskName("Zelda Quintessa Marchbanks"),
		phi.MaskEmail("zelda.marchbanks@example.org"),
		phi.MaskPhone("+1 555 867 5309"),
		phi.MaskText("Recurring migraines; sumatriptan"),
	} {
		assert.Empty(t, s.Scan("line", []byte(clean)), clean)
	}
}

package vendortest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// a1 is a parsed A1 range: a tab and a rectangle; -1 means unbounded.
type a1 struct {
	tab                    string
	col1, row1, col2, row2 int
}

// parseA1 reads 'Tab'!A1:B2, Tab!C:C, 'Tab'!1:1, Tab!A1 or Tab.
func parseA1(s string) (a1, bool) {
	var r a1
	if strings.HasPrefix(s, "'") {
		i := 1
		var b strings.Builder
		for ; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return r, false
		}
		r.tab, s = b.String(), s[i+1:]
	} else {
		tab, rest, _ := strings.Cut(s, "!")
		r.tab, s = tab, "!"+rest
		if rest == "" {
			s = ""
		}
	}
	r.col1, r.row1, r.col2, r.row2 = -1, -1, -1, -1
	if s == "" {
		return r, true
	}
	cells, ok := strings.CutPrefix(s, "!")
	if !ok {
		return r, false
	}
	from, to, isRange := strings.Cut(cells, ":")
	if r.col1, r.row1, ok = cellRef(from); !ok {
		return r, false
	}
	r.col2, r.row2 = r.col1, r.row1
	if isRange {
		if r.col2, r.row2, ok = cellRef(to); !ok {
			return r, false
		}
	}
	return r, true
}

// cellRef reads "C5", "C" or "5" as 0-based column and row, -1 when absent.
func cellRef(s string) (col, row int, ok bool) {
	col, row = -1, -1
	i := 0
	for i < len(s) && s[i] >= 'A' && s[i] <= 'Z' {
		if col < 0 {
			col = 0
		}
		col = col*26 + int(s[i]-'A'+1)
		i++
	}
	if col > 0 {
		col--
	}
	if i < len(s) {
		n, err := strconv.Atoi(s[i:])
		if err != nil || n < 1 {
			return 0, 0, false
		}
		row = n - 1
	}
	return col, row, s != ""
}

func (g *Google) sheetsCall(r *http.Request, body []byte) (int, any) {
	rest := strings.TrimPrefix(r.URL.Path, "/v4/spreadsheets/")
	id, rng, ok := strings.Cut(rest, "/values/")
	g.mu.Lock()
	defer g.mu.Unlock()
	book, exists := g.sheets[id]
	if !ok || !exists {
		return 404, googleError(404, "NOT_FOUND", "Requested entity was not found.")
	}
	appending := false
	if r.Method == http.MethodPost {
		rng, appending = strings.CutSuffix(rng, ":append")
	}
	a, ok := parseA1(rng)
	rows, tabExists := book[a.tab]
	if !ok || !tabExists {
		return 400, googleError(400, "INVALID_ARGUMENT", "Unable to parse range: "+rng)
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet:
		return 200, map[string]any{"range": rng, "majorDimension": "ROWS",
			"values": cut(rows, a)}
	case r.Method == http.MethodPut || appending:
		if o := q.Get("valueInputOption"); o != "RAW" && o != "USER_ENTERED" {
			return 400, googleError(400, "INVALID_ARGUMENT",
				"Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED")
		}
		var vr struct {
			Values [][]any `json:"values"`
		}
		if err := json.Unmarshal(body, &vr); err != nil {
			return 400, googleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		}
		top, left := max(a.row1, 0), max(a.col1, 0)
		if appending {
			top, left = len(trimRows(rows)), 0
		}
		for i, vals := range vr.Values {
			for j, v := range vals {
				if v == nil {
					continue // Sheets skips nulls
				}
				rows = setCell(rows, top+i, left+j, display(v))
			}
		}
		book[a.tab] = rows
		return 200, map[string]any{"spreadsheetId": id, "updatedRows": len(vr.Values),
			"updatedRange": rng}
	}
	return 404, googleError(404, "NOT_FOUND", "Not Found")
}

// display is how Sheets shows a value written RAW.
func display(v any) string {
	switch x := v.(type) {
	case bool:
		return strings.ToUpper(strconv.FormatBool(x))
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func setCell(rows [][]string, row, col int, v string) [][]string {
	for len(rows) <= row {
		rows = append(rows, nil)
	}
	for len(rows[row]) <= col {
		rows[row] = append(rows[row], "")
	}
	rows[row][col] = v
	return rows
}

// trimRows drops trailing empty rows, as Sheets' answers do.
func trimRows(rows [][]string) [][]string {
	n := len(rows)
	for n > 0 && strings.Join(rows[n-1], "") == "" {
		n--
	}
	return rows[:n]
}

// cut returns the rectangle's values, trailing empty cells and rows dropped.
func cut(rows [][]string, a a1) [][]string {
	var out [][]string
	for i, row := range rows {
		if (a.row1 >= 0 && i < a.row1) || (a.row2 >= 0 && i > a.row2) {
			continue
		}
		var vals []string
		for j, v := range row {
			if (a.col1 >= 0 && j < a.col1) || (a.col2 >= 0 && j > a.col2) {
				continue
			}
			vals = append(vals, v)
		}
		for len(vals) > 0 && vals[len(vals)-1] == "" {
			vals = vals[:len(vals)-1]
		}
		out = append(out, vals)
	}
	out = trimRows(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

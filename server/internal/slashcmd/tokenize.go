// The tokenizer turns the text typed after the slash command into tokens and
// back. Its rules are shell-like but forgiving, because the text comes from chat
// clients rather than terminals: phone keyboards replace straight quotes with
// typographic ones, and backslashes in Windows-style paths should survive.

package slashcmd

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SyntaxError reports input that cannot be split into tokens.
type SyntaxError struct {
	// Offset is the byte offset in the input where the problem starts.
	Offset int
	// Msg is a human-readable explanation, including how to fix it.
	Msg string
}

// Error returns the message, which already says where and how to fix it.
func (e *SyntaxError) Error() string { return e.Msg }

// Typographic quotes as inserted by "smart punctuation" on mobile keyboards.
const (
	leftDouble  = '“'
	rightDouble = '”'
	leftSingle  = '‘'
	rightSingle = '’'
)

// Split splits input into tokens separated by Unicode whitespace.
//
// Quoting:
//   - "double" and 'single' quotes group text, as do “typographic” and
//     ‘typographic’ quotes. Either curly double quote may open or close a
//     double-quoted string, because keyboards choose the direction from the
//     preceding character (after "=" they often insert ” as the opener).
//     The curly single opener must be ‘: a lone ’ is an apostrophe.
//   - Quoted parts join adjacent text: a"b c"d is the single token "ab cd";
//     "" on its own is an empty token.
//   - Inside double quotes a backslash escapes \ and the double quote
//     characters; outside quotes it escapes whitespace, \ and quotes. Any
//     other backslash is kept literally so that paths like C:\backups survive.
//   - Single quotes take everything literally until the closing quote.
//
// An unterminated quote yields a *SyntaxError.
func Split(input string) ([]string, error) {
	var (
		tokens  []string
		cur     strings.Builder
		inToken bool // distinguishes an empty quoted token from no token
	)
	for i := 0; i < len(input); {
		r, size := utf8.DecodeRuneInString(input[i:])
		switch {
		case unicode.IsSpace(r):
			if inToken {
				tokens = append(tokens, cur.String())
				cur.Reset()
				inToken = false
			}
			i += size
		case r == '\\':
			inToken = true
			if next, nsize := nextRune(input, i+size); nsize > 0 && escapableOutside(next) {
				cur.WriteString(input[i+size : i+size+nsize])
				i += size + nsize
				continue
			}
			cur.WriteByte('\\')
			i += size
		case opensQuote(r):
			inToken = true
			end, err := readQuoted(input, i, &cur)
			if err != nil {
				return nil, err
			}
			i = end
		default:
			inToken = true
			// Copy the original bytes rather than r so that invalid UTF-8
			// passes through unchanged instead of becoming U+FFFD.
			cur.WriteString(input[i : i+size])
			i += size
		}
	}
	if inToken {
		tokens = append(tokens, cur.String())
	}
	return tokens, nil
}

// readQuoted consumes the quoted string whose opening quote is at start,
// appends its content to buf and returns the offset just past the closing
// quote.
func readQuoted(input string, start int, buf *strings.Builder) (int, error) {
	opener, size := utf8.DecodeRuneInString(input[start:])
	double := opener != '\'' && opener != leftSingle
	for i := start + size; i < len(input); {
		r, size := utf8.DecodeRuneInString(input[i:])
		if closesQuote(opener, r) {
			return i + size, nil
		}
		if double && r == '\\' {
			if next, nsize := nextRune(input, i+size); nsize > 0 && escapableInDouble(next) {
				buf.WriteString(input[i+size : i+size+nsize])
				i += size + nsize
				continue
			}
		}
		buf.WriteString(input[i : i+size])
		i += size
	}
	return 0, &SyntaxError{
		Offset: start,
		Msg: fmt.Sprintf("unterminated quote starting at character %d: close it with %c",
			utf8.RuneCountInString(input[:start])+1, closerFor(opener)),
	}
}

// nextRune decodes the rune at offset i, returning size 0 at the end.
func nextRune(s string, i int) (rune, int) {
	if i >= len(s) {
		return 0, 0
	}
	return utf8.DecodeRuneInString(s[i:])
}

func opensQuote(r rune) bool {
	return r == '"' || r == '\'' || r == leftDouble || r == rightDouble || r == leftSingle
}

func closesQuote(opener, r rune) bool {
	switch opener {
	case leftDouble, rightDouble:
		return r == leftDouble || r == rightDouble
	case leftSingle:
		return r == rightSingle
	default:
		return r == opener
	}
}

func closerFor(opener rune) rune {
	switch opener {
	case leftDouble, rightDouble:
		return rightDouble
	case leftSingle:
		return rightSingle
	default:
		return opener
	}
}

func escapableInDouble(r rune) bool {
	return r == '\\' || r == '"' || r == leftDouble || r == rightDouble
}

func escapableOutside(r rune) bool {
	return unicode.IsSpace(r) || r == '\\' || opensQuote(r) || r == rightSingle
}

// needsQuoting reports whether r would be interpreted by Split when it
// appears unquoted.
func needsQuoting(r rune) bool {
	return unicode.IsSpace(r) || r == '\\' || opensQuote(r)
}

// Quote returns token in a form that Split reads back as exactly that one
// token. Tokens without special characters are returned unchanged.
func Quote(token string) string {
	if token == "" {
		return `""`
	}
	if !strings.ContainsFunc(token, needsQuoting) {
		return token
	}
	var b strings.Builder
	b.Grow(len(token) + 2)
	b.WriteByte('"')
	// Byte-wise is safe: '\\' and '"' never occur inside multi-byte UTF-8
	// sequences, and everything else is literal inside double quotes.
	for i := 0; i < len(token); i++ {
		if c := token[i]; c == '\\' || c == '"' {
			b.WriteByte('\\')
		}
		b.WriteByte(token[i])
	}
	b.WriteByte('"')
	return b.String()
}

// Join quotes each token as needed and joins them with spaces, so that
// Split(Join(tokens)) returns tokens.
func Join(tokens []string) string {
	quoted := make([]string, len(tokens))
	for i, t := range tokens {
		quoted[i] = Quote(t)
	}
	return strings.Join(quoted, " ")
}

package harness

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Mail is one message the SMTP sink received.
type Mail struct {
	From string
	To   []string
	Data string // headers and body as sent
}

// SMTPSink is a minimal SMTP server on loopback that accepts every message and keeps it, so
// tests can follow the emails Mattermost sends (password-reset links, temporary passwords).
// It speaks plain SMTP without STARTTLS or AUTH, as Mattermost's EmailSettings allow.
type SMTPSink struct {
	Port int
	ln   net.Listener
	mu   sync.Mutex
	mail []Mail
	wg   sync.WaitGroup
}

// StartSMTPSink listens on a free loopback port.
func StartSMTPSink() (*SMTPSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtp sink: %w", err)
	}
	s := &SMTPSink{ln: ln, Port: ln.Addr().(*net.TCPAddr).Port}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *SMTPSink) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c)
		}()
	}
}

func (s *SMTPSink) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = fmt.Fprintf(c, "%s\r\n", line) }
	say("220 dr-harness ESMTP sink")
	var m Mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 dr-harness")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m = Mail{From: addr(line)}
			say("250 OK")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.To = append(m.To, addr(line))
			say("250 OK")
		case cmd == "DATA":
			say("354 end with <CRLF>.<CRLF>")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = b.String()
			s.mu.Lock()
			s.mail = append(s.mail, m)
			s.mu.Unlock()
			say("250 OK queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		case cmd == "RSET", cmd == "NOOP":
			say("250 OK")
		default:
			say("502 not implemented")
		}
	}
}

func addr(line string) string {
	i, j := strings.Index(line, "<"), strings.Index(line, ">")
	if i >= 0 && j > i {
		return strings.ToLower(line[i+1 : j])
	}
	return strings.TrimSpace(line[strings.Index(line, ":")+1:])
}

// To returns the messages sent to an address, oldest first.
func (s *SMTPSink) To(address string) []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Mail
	for _, m := range s.mail {
		for _, t := range m.To {
			if strings.EqualFold(t, address) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Count returns how many messages arrived.
func (s *SMTPSink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mail)
}

// Close stops the sink.
func (s *SMTPSink) Close() {
	_ = s.ln.Close()
	s.wg.Wait()
}

// EnableEmail points the server at the sink and turns email on; the returned function turns
// it off again (other tests do not want an email per notification).
func (env *Env) EnableEmail(ctx context.Context, sink *SMTPSink) (func(), error) {
	c := env.Admin.Client
	cfg, _, err := c.GetConfig(ctx)
	if err != nil {
		return nil, err
	}
	orig := cfg.EmailSettings
	es := &cfg.EmailSettings
	t, f := true, false
	server, port, empty := "127.0.0.1", fmt.Sprint(sink.Port), ""
	es.SendEmailNotifications, es.SMTPServer, es.SMTPPort = &t, &server, &port
	es.ConnectionSecurity, es.EnableSMTPAuth, es.SkipServerCertificateVerification = &empty, &f, &t
	feedback := "dr-harness@example.com"
	es.FeedbackEmail, es.ReplyToAddress = &feedback, &feedback
	if _, _, err := c.UpdateConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("enable email: %w", err)
	}
	return func() {
		cfg, _, err := c.GetConfig(context.Background())
		if err != nil {
			return
		}
		cfg.EmailSettings = orig
		_, _, _ = c.UpdateConfig(context.Background(), cfg)
	}, nil
}

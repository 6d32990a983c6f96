package kvstate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// usedKey is a key, or a key prefix, that code under server/ passes to the KV store.
type usedKey struct {
	name   string
	prefix bool
	pos    string
}

// TestEveryUsedKeyIsRegistered scans the non-test code under server/ for KV calls (Get, Set,
// Delete, SetAtomicWithRetries on a KV store, cluster.NewMutex/Schedule, KeysWithPrefix) and
// fails when a key it can name is not in keys.go, or when it cannot tell what key a call uses.
func TestEveryUsedKeyIsRegistered(t *testing.T) {
	used, unresolved := scanServer(t, filepath.Join("..", ".."))
	for _, u := range unresolved {
		t.Errorf("%s: cannot tell which KV key this call uses: declare it in kvstate/keys.go and use the typed key", u)
	}
	found := map[string]bool{}
	for _, u := range used {
		s, ok := Lookup(u.name)
		if u.prefix {
			ok = ok || registeredFamily(u.name)
			s = Spec{Name: u.name}
		}
		if !ok {
			t.Errorf("%s: KV key %q (prefix %v) is not in kvstate/keys.go", u.pos, u.name, u.prefix)
			continue
		}
		found[s.Name] = true
		t.Logf("%s: %s (prefix %v)", u.pos, u.name, u.prefix)
	}
	// The scan must see the keys of the packages that keep their own records: a scan that
	// finds nothing would pass for the wrong reason.
	for _, s := range All() {
		if strings.HasPrefix(s.Owner, "internal/") && !found[s.Name] {
			t.Errorf("%s (owned by %s) is registered but no code under server/ uses it", s.Name, s.Owner)
		}
	}
}

func registeredFamily(prefix string) bool {
	for _, s := range All() {
		if s.Family && s.Name == prefix {
			return true
		}
	}
	return false
}

func scanServer(t *testing.T, root string) (used []usedKey, unresolved []string) {
	t.Helper()
	self, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if abs, _ := filepath.Abs(path); abs == self || d.Name() == "e2e" || d.Name() == "testdata" {
			return filepath.SkipDir
		}
		u, un := scanPackage(t, path)
		used, unresolved = append(used, u...), append(unresolved, un...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) == 0 {
		t.Fatal("the scan found no KV key at all")
	}
	return used, unresolved
}

// pkgScan holds what one package declares that a key expression may refer to.
type pkgScan struct {
	fset   *token.FileSet
	consts map[string]ast.Expr
	funcs  map[string]*ast.FuncDecl
	fields map[string][]ast.Expr // values assigned to struct fields, by field name
}

func scanPackage(t *testing.T, dir string) (used []usedKey, unresolved []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ps := &pkgScan{fset: token.NewFileSet(), consts: map[string]ast.Expr{}, funcs: map[string]*ast.FuncDecl{}, fields: map[string][]ast.Expr{}}
	var files []*ast.File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(ps.fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		ps.declarations(f)
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if arg, prefix := keyArg(call); arg != nil {
					u, ok := ps.resolve(arg, prefix)
					pos := ps.fset.Position(call.Pos()).String()
					if !ok {
						unresolved = append(unresolved, pos)
					}
					for _, k := range u {
						k.pos = pos
						used = append(used, k)
					}
				}
			}
			return true
		})
	}
	return used, unresolved
}

func (ps *pkgScan) declarations(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Recv == nil {
				ps.funcs[n.Name.Name] = n
			}
		case *ast.GenDecl:
			if n.Tok == token.CONST {
				for _, s := range n.Specs {
					vs := s.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							ps.consts[name.Name] = vs.Values[i]
						}
					}
				}
			}
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok {
				ps.fields[id.Name] = append(ps.fields[id.Name], n.Value)
			}
		case *ast.AssignStmt:
			for i, lhs := range n.Lhs {
				if sel, ok := lhs.(*ast.SelectorExpr); ok && i < len(n.Rhs) {
					ps.fields[sel.Sel.Name] = append(ps.fields[sel.Sel.Name], n.Rhs[i])
				}
			}
		}
		return true
	})
}

// keyArg returns the key argument of a KV call and the prefix the callee puts before it.
func keyArg(call *ast.CallExpr) (ast.Expr, string) {
	switch fn := call.Fun.(type) {
	case *ast.SelectorExpr:
		recv := strings.ToLower(exprString(fn.X))
		switch {
		case recv == "cluster" && fn.Sel.Name == "NewMutex" && len(call.Args) > 1:
			return call.Args[1], mutexPrefix
		case recv == "cluster" && fn.Sel.Name == "Schedule" && len(call.Args) > 1:
			return call.Args[1], cronPrefix
		case strings.HasPrefix(recv, "kvstate."): // a typed key: registered where it is declared
		case strings.Contains(recv, "kv") && len(call.Args) > 0:
			switch fn.Sel.Name {
			case "Get", "Set", "Delete", "SetAtomicWithRetries":
				return call.Args[0], ""
			}
		}
	case *ast.CallExpr: // KeysWithPrefix(pluginID)(prefix)
		if sel, ok := fn.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "KeysWithPrefix" && len(call.Args) > 0 {
			return call.Args[0], ""
		}
	}
	return nil, ""
}

// resolve names the keys e may be: exact keys, or prefixes (a constant followed by an id).
func (ps *pkgScan) resolve(e ast.Expr, prefix string) ([]usedKey, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(e.Value)
		return []usedKey{{name: prefix + s}}, err == nil && e.Kind == token.STRING
	case *ast.Ident:
		if v, ok := ps.consts[e.Name]; ok {
			return ps.resolve(v, prefix)
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			u, ok := ps.resolve(e.X, prefix)
			for i := range u {
				u[i].prefix = true
			}
			return u, ok
		}
	case *ast.SelectorExpr:
		if strings.HasPrefix(exprString(e), "kvstate.") {
			return nil, true // a registered key's name
		}
		return ps.resolveAll(ps.fields[e.Sel.Name], prefix)
	case *ast.CallExpr:
		return ps.resolveCall(e, prefix)
	}
	return nil, false
}

func (ps *pkgScan) resolveAll(es []ast.Expr, prefix string) ([]usedKey, bool) {
	var out []usedKey
	for _, e := range es {
		u, ok := ps.resolve(e, prefix)
		if !ok {
			return nil, false
		}
		out = append(out, u...)
	}
	return out, len(out) > 0
}

// resolveCall follows a key-building function of the package (one return statement) and
// fmt.Sprintf("%s...", prefix, ...).
func (ps *pkgScan) resolveCall(call *ast.CallExpr, prefix string) ([]usedKey, bool) {
	if sel, ok := call.Fun.(*ast.SelectorExpr); ok && exprString(sel) == "fmt.Sprintf" && len(call.Args) > 1 {
		if f, ok := call.Args[0].(*ast.BasicLit); ok && strings.HasPrefix(f.Value, `"%s`) {
			u, ok := ps.resolve(call.Args[1], prefix)
			for i := range u {
				u[i].prefix = true
			}
			return u, ok
		}
		return nil, false
	}
	id, ok := call.Fun.(*ast.Ident)
	if !ok || ps.funcs[id.Name] == nil || len(ps.funcs[id.Name].Body.List) != 1 {
		return nil, false
	}
	ret, ok := ps.funcs[id.Name].Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return nil, false
	}
	return ps.resolve(ret.Results[0], prefix)
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.UnaryExpr:
		return exprString(e.X)
	case *ast.ParenExpr:
		return exprString(e.X)
	}
	return ""
}

func TestScanFindsUnregisteredAndUnknownKeys(t *testing.T) {
	used, unresolved := scanPackage(t, filepath.Join("testdata", "rawkv"))
	if len(used) != 2 || used[0].name != "not/registered" || used[0].prefix || used[1].name != "sso/fb/" || !used[1].prefix {
		t.Errorf("used = %+v, want not/registered and the prefix sso/fb/", used)
	}
	if _, ok := Lookup(used[0].name); ok {
		t.Error("not/registered is registered")
	}
	if len(unresolved) != 1 {
		t.Errorf("unresolved = %v, want the call with a parameter as key", unresolved)
	}
}

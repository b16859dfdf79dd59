package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"codeberg.org/go-fonts/liberation/liberationsansbold"
	"codeberg.org/go-fonts/liberation/liberationsansregular"
	"github.com/go-pdf/fpdf"
)

// PDFOptions tune WritePDF.
type PDFOptions struct {
	// Created is the document's creation and modification date. Zero means
	// the time of rendering; pass CreationTime's result for reproducible
	// output.
	Created time.Time
	// Generator names the producing tool in the metadata and on the cover
	// (default "aiload").
	Generator string
}

// CreationTime returns the creation date a report should carry: the UTC
// time in SOURCE_DATE_EPOCH (seconds since 1970) when getenv finds it, so
// the same input renders byte-identical files, else now.
func CreationTime(getenv func(string) string, now func() time.Time) (time.Time, error) {
	s := getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return now().UTC(), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// Page geometry (A4 portrait, millimetres).
const (
	pageW, pageH   = 210.0, 297.0
	marginX        = 18.0
	marginTop      = 20.0
	contentW       = pageW - 2*marginX
	rowH           = 5.6
	tocRowsPerPage = 38
	sumRowsPerPage = 40
	maxModelRows   = 8          // tokens-by-model rows on a team page
	maxRecRows     = 5          // recommendation rows on a team page
	footerY        = pageH - 16 // content ends above the footer
	maxChargeRows  = 12
)

// WritePDF renders the report as a PDF: a cover (period, total, cost by
// team), a table of contents, a summary of every team's cost, one page per
// team (cost breakdown, tokens by model, per-minute demand against its
// limit, 429 counts, TPM recommendations), capacity pages (the provisioned
// charges billed, and per model the PTU cost curve with the PAYG spill and
// the recommended plan) and a methodology page. Fonts are embedded
// (Liberation Sans, subset); pages are numbered.
func WritePDF(w io.Writer, r Report, opts PDFOptions) error {
	r.Normalize()
	if err := r.Validate(); err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	if opts.Generator == "" {
		opts.Generator = "aiload"
	}
	charts, err := Charts(r)
	if err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	pngs, err := renderPNGs(charts)
	if err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	d := newDoc(r, opts, charts, pngs)
	d.render()
	if err := d.f.Error(); err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	if len(d.overflow) > 0 {
		return fmt.Errorf("write pdf: content runs into the footer on pages %v", d.overflow)
	}
	if d.f.PageNo() != d.plan.total {
		return fmt.Errorf("write pdf: laid out %d pages, planned %d", d.f.PageNo(), d.plan.total)
	}
	if err := d.f.Output(w); err != nil {
		return fmt.Errorf("write pdf: %w", err)
	}
	return nil
}

// renderPNGs renders the charts concurrently, one worker per CPU. Chart i
// is rendered i pixels wider (scaled as a whole, so it looks the same):
// fpdf orders images of equal pixel width by map iteration, so distinct
// widths keep the file byte-for-byte reproducible.
func renderPNGs(charts []*Chart) ([][]byte, error) {
	out := make([][]byte, len(charts))
	errs := make([]error, len(charts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = charts[i].png(0, i)
			}
		}()
	}
	for i := range charts {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, errors.Join(errs...)
}

// pagePlan fixes every section's first page before anything is drawn, so
// the table of contents can print page numbers in one pass; every section
// has a fixed page count (tables are capped to fit).
type pagePlan struct {
	toc, summary, capacity, methodology int
	teams                               map[string]int
	plans                               []int
	tocPages, summaryPages, total       int
}

func planPages(teams []string, plans int, tocEntries int) pagePlan {
	p := pagePlan{teams: map[string]int{}}
	p.tocPages = ceilDiv(tocEntries, tocRowsPerPage)
	p.summaryPages = max(1, ceilDiv(len(teams)+1, sumRowsPerPage))
	p.toc = 2
	p.summary = p.toc + p.tocPages
	n := p.summary + p.summaryPages
	for _, t := range teams {
		p.teams[t] = n
		n++
	}
	p.capacity = n
	n++
	for range plans {
		p.plans = append(p.plans, n)
		n++
	}
	p.methodology = n
	p.total = n
	return p
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// tocEntry is one line of the table of contents.
type tocEntry struct {
	title string
	page  int
	level int
	link  int
}

type doc struct {
	f      *fpdf.Fpdf
	r      Report
	opts   PDFOptions
	lines  []Line
	totals []TeamTotal
	teams  []string // team pages, alphabetical
	acts   map[string]TeamActivity
	charts map[string]int // chart name → index
	// teamChart and planChart name the demand chart of a team and the
	// curve of r.Plans[i].
	teamChart map[string]string
	planChart []string
	plan      pagePlan
	// overflow lists pages whose content ran into the footer (a layout
	// defect: WritePDF fails rather than print it).
	overflow []int
	toc      []tocEntry
}

func newDoc(r Report, opts PDFOptions, charts []*Chart, pngs [][]byte) *doc {
	d := &doc{r: r, opts: opts, lines: r.Lines(), acts: map[string]TeamActivity{}, charts: map[string]int{}}
	d.totals = TeamTotals(d.lines)
	teamCharts, planCharts := chartNames(r)
	d.teamChart, d.planChart = map[string]string{}, planCharts
	for i, a := range r.Teams {
		d.teamChart[a.Team] = teamCharts[i]
	}
	seen := map[string]bool{}
	for _, t := range d.totals {
		seen[t.Team] = true
	}
	for _, a := range r.Teams {
		d.acts[a.Team] = a
		seen[a.Team] = true
	}
	for t := range seen {
		d.teams = append(d.teams, t)
	}
	sort.Strings(d.teams)
	nTOC := 3 + len(d.teams) + len(r.Plans)
	d.plan = planPages(d.teams, len(r.Plans), nTOC)

	f := fpdf.New("P", "mm", "A4", "")
	f.SetCatalogSort(true)
	f.AddUTF8FontFromBytes("sans", "", liberationsansregular.TTF)
	f.AddUTF8FontFromBytes("sans", "B", liberationsansbold.TTF)
	f.SetMargins(marginX, marginTop, marginX)
	f.SetAutoPageBreak(false, 0)
	f.SetTitle(r.Title+" "+r.Period.Label, true)
	f.SetSubject("Chargeback of AI gateway usage, "+r.Period.Label, true)
	f.SetCreator(opts.Generator, true)
	f.SetProducer(opts.Generator, true)
	if !opts.Created.IsZero() {
		f.SetCreationDate(opts.Created)
		f.SetModificationDate(opts.Created)
	}
	for i, c := range charts {
		d.charts[c.Name] = i
		f.RegisterImageOptionsReader(c.Name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(pngs[i]))
	}
	d.f = f
	d.toc = d.tocEntries()
	f.SetHeaderFunc(d.header)
	f.SetFooterFunc(d.footer)
	return d
}

func (d *doc) tocEntries() []tocEntry {
	e := []tocEntry{{title: "Cost by " + d.r.groupWords(), page: d.plan.summary}}
	for _, t := range d.teams {
		e = append(e, tocEntry{title: d.r.groupTitle() + ": " + t, page: d.plan.teams[t], level: 1})
	}
	e = append(e, tocEntry{title: "Capacity: provisioned throughput", page: d.plan.capacity})
	for i, p := range d.r.Plans {
		e = append(e, tocEntry{title: "PTU plan: " + p.Model, page: d.plan.plans[i], level: 1})
	}
	e = append(e, tocEntry{title: "Methodology", page: d.plan.methodology})
	for i := range e {
		e[i].link = d.f.AddLink()
	}
	return e
}

func (d *doc) render() {
	d.cover()
	d.contents()
	d.summary()
	for _, t := range d.teams {
		d.teamPage(t)
	}
	d.capacity()
	for i, p := range d.r.Plans {
		d.planPage(i, p)
	}
	d.methodology()
}

// startSection adds a page, makes it the target of its TOC link and adds
// an outline bookmark.
func (d *doc) startSection(title string, level int) {
	d.f.AddPage()
	for _, e := range d.toc {
		if e.title == title && e.page == d.f.PageNo() {
			d.f.SetLink(e.link, 0, d.f.PageNo())
		}
	}
	d.f.Bookmark(title, level, -1)
}

func (d *doc) header() {
	if d.f.PageNo() == 1 {
		return
	}
	f := d.f
	f.SetFont("sans", "", 8)
	f.SetTextColor(110, 110, 110)
	f.SetXY(marginX, 10)
	f.CellFormat(contentW/2, 4, d.r.Title+" · "+d.r.Period.Label, "", 0, "L", false, 0, "")
	f.CellFormat(contentW/2, 4, d.r.Account.BillingAccountName, "", 0, "R", false, 0, "")
	f.SetDrawColor(200, 200, 200)
	f.Line(marginX, 15, pageW-marginX, 15)
	f.SetTextColor(0, 0, 0)
	f.SetXY(marginX, marginTop)
}

func (d *doc) footer() {
	f := d.f
	if f.GetY() > footerY+0.5 {
		d.overflow = append(d.overflow, f.PageNo())
	}
	f.SetFont("sans", "", 8)
	f.SetTextColor(110, 110, 110)
	f.SetXY(marginX, pageH-12)
	f.CellFormat(contentW, 4, fmt.Sprintf("Page %d of %d", f.PageNo(), d.plan.total), "", 0, "C", false, 0, "")
	f.SetTextColor(0, 0, 0)
}

func (d *doc) heading(text string, size float64) {
	d.f.SetFont("sans", "B", size)
	d.f.MultiCell(contentW, size*0.5, text, "", "L", false)
	d.f.Ln(2)
}

func (d *doc) text(size float64, s string) {
	d.f.SetFont("sans", "", size)
	d.f.MultiCell(contentW, size*0.45, s, "", "L", false)
}

// fit truncates s with an ellipsis to fit width at the current font: for
// table cells and contents entries only; running text wraps.
func (d *doc) fit(s string, width float64) string {
	if d.f.GetStringWidth(s) <= width-1 {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && d.f.GetStringWidth(string(r)+"…") > width-1 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

func (d *doc) money(m Money) string { return m.Display(d.r.Currency) }

func (d *doc) image(name string, w float64) { d.imageFit(name, w, pageH) }

// imageFit places a chart centred at the current position, w wide, or
// narrower when its height would exceed maxH.
func (d *doc) imageFit(name string, w, maxH float64) {
	if _, ok := d.charts[name]; !ok {
		return
	}
	y := d.f.GetY()
	info := d.f.GetImageInfo(name)
	h := w * info.Height() / info.Width()
	if h > maxH {
		h, w = maxH, maxH*info.Width()/info.Height()
	}
	d.f.ImageOptions(name, marginX+(contentW-w)/2, y, w, h, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	d.f.SetY(y + h + 3)
}

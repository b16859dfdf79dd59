package reports

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Money is an amount in millionths (1e-6) of the report's currency: 1.5 USD
// is Money(1_500_000). Costs and unit prices are both Money; fixed-point
// integers keep sums exact, so a total is always the sum of its lines.
type Money int64

// MoneyFromFloat converts a currency amount to Money, rounding to the nearest
// millionth (half away from zero). Use it at the edge, on prices read from a
// file or amounts computed elsewhere.
func MoneyFromFloat(f float64) Money { return Money(math.Round(f * 1e6)) }

// Cents returns m rounded to whole cents, half away from zero.
func (m Money) Cents() int64 {
	if m < 0 {
		return -Money(-m).Cents()
	}
	return (int64(m) + 5_000) / 10_000
}

// Float returns m in currency units (for charts; never for sums).
func (m Money) Float() float64 { return float64(m) / 1e6 }

// Exact formats m with as many decimals as it needs, at least two and at most
// six: "2.5" → "2.50", "0.000075" stays, "12" → "12.00".
func (m Money) Exact() string { return trimDecimals(fixed(big.NewInt(int64(m)), 6), 2) }

// Rounded formats m rounded to the cent without grouping: "1234.57".
func (m Money) Rounded() string {
	c := m.Cents()
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// Display formats m rounded to the cent with thousands separators and the
// currency's symbol: "$1,234.57", "€12.00", "CHF 3.10".
func (m Money) Display(currency string) string {
	s := m.Rounded()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	s = group(intPart) + "." + frac
	sym := currencySymbol(currency)
	if neg {
		return "-" + sym + s
	}
	return sym + s
}

func currencySymbol(code string) string {
	switch code {
	case "", "USD":
		return "$"
	case "EUR":
		return "€"
	case "GBP":
		return "£"
	case "JPY":
		return "¥"
	}
	return code + " "
}

// group inserts thousands separators into a run of digits.
func group(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	lead := len(digits) % 3
	if lead > 0 {
		b.WriteString(digits[:lead])
	}
	for i := lead; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// groupInt formats n with thousands separators: 1234567 → "1,234,567".
func groupInt(n int64) string {
	if n < 0 {
		return "-" + group(strconv.FormatInt(-n, 10))
	}
	return group(strconv.FormatInt(n, 10))
}

// fixed formats v × 10^-scale as a plain decimal with exactly scale
// decimals: fixed(1234, 6) = "0.001234".
func fixed(v *big.Int, scale int) string {
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	out := s[:len(s)-scale]
	if scale > 0 {
		out += "." + s[len(s)-scale:]
	}
	if neg {
		return "-" + out
	}
	return out
}

// trimDecimals drops trailing zeros of a decimal string, keeping at least
// min decimals.
func trimDecimals(s string, min int) string {
	i := strings.IndexByte(s, '.')
	if i < 0 {
		if min == 0 {
			return s
		}
		return s + "." + strings.Repeat("0", min)
	}
	end := len(s)
	for end > i+1+min && s[end-1] == '0' {
		end--
	}
	if end == i+1 {
		end = i
	}
	return s[:end]
}

// Quantity is an amount of a pricing unit in millionths: 72,000 PTU-hours is
// Quantity(72_000_000_000); 1,234 tokens priced per "1000000 Tokens" is
// Quantity(1_234).
type Quantity int64

// String formats q as a plain decimal without trailing zeros: "72000",
// "0.001234".
func (q Quantity) String() string { return trimDecimals(fixed(big.NewInt(int64(q)), 6), 0) }

// times returns q × price exactly, formatted as a plain decimal in currency
// units (up to 12 decimals, trailing zeros dropped, at least 2).
func (q Quantity) times(price Money) string {
	p := new(big.Int).Mul(big.NewInt(int64(q)), big.NewInt(int64(price)))
	return trimDecimals(fixed(p, 12), 2)
}

// timesMoney returns q × price rounded to the nearest Money (half away from
// zero).
func (q Quantity) timesMoney(price Money) Money {
	p := new(big.Int).Mul(big.NewInt(int64(q)), big.NewInt(int64(price)))
	neg := p.Sign() < 0
	p.Abs(p)
	p.Add(p, big.NewInt(500_000))
	p.Quo(p, big.NewInt(1_000_000))
	if neg {
		p.Neg(p)
	}
	return Money(p.Int64())
}

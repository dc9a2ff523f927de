#include "engine/structured/string_formats.hpp"

namespace llmd::engine::structured {
namespace {

bool digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool hex(uint8_t c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool alnum(uint8_t c) { return alpha(c) || digit(c); }

// full-date, one position at a time; prev is the byte before.
bool date_ok(int32_t pos, uint8_t c, int32_t prev) {
  switch (pos) {
    case 0: case 1: case 2: case 3: return digit(c);
    case 4: case 7: return c == '-';
    case 5: return c == '0' || c == '1';
    case 6: return prev == '0' ? (c >= '1' && c <= '9') : (c >= '0' && c <= '2');
    case 8: return c >= '0' && c <= '3';
    case 9: return prev == '0' ? (c >= '1' && c <= '9') : prev == '3' ? (c == '0' || c == '1') : digit(c);
    default: return false;
  }
}

constexpr int32_t kTimeAccept = 20;

// full-time: state s (see the numbering below), prev byte, fraction digits.
bool time_step(int32_t* s, int32_t* prev, int32_t* digits, uint8_t c) {
  auto go = [&](int32_t next) {
    *prev = c;
    *s = next;
    return true;
  };
  switch (*s) {
    case 0: return c >= '0' && c <= '2' && go(1);                                  // hour
    case 1: return (*prev == '2' ? (c >= '0' && c <= '3') : digit(c)) && go(2);
    case 2: return c == ':' && go(3);
    case 3: return c >= '0' && c <= '5' && go(4);                                  // minute
    case 4: return digit(c) && go(5);
    case 5: return c == ':' && go(6);
    case 6: return c >= '0' && c <= '5' && go(7);                                  // second
    case 7: return digit(c) && go(8);
    case 8:                                                                         // after the seconds
    case 10:                                                                        // in the fraction
      if (*s == 8 && c == '.') return go(9);
      if (*s == 10 && digit(c) && *digits < 9) {
        ++*digits;
        return go(10);
      }
      if (c == 'Z') return go(kTimeAccept);
      if (c == '+' || c == '-') return go(12);
      return false;
    case 9: return digit(c) && (*digits = 1) && go(10);
    case 12: return c >= '0' && c <= '2' && go(13);                                // offset hour
    case 13: return (*prev == '2' ? (c >= '0' && c <= '3') : digit(c)) && go(14);
    case 14: return c == ':' && go(15);
    case 15: return c >= '0' && c <= '5' && go(16);
    case 16: return digit(c) && go(kTimeAccept);
    default: return false;
  }
}

constexpr int32_t kMaxLocal = 64;
constexpr int32_t kMaxEmail = 254;

// email: a = phase (0 local start, 1 local, 2 label start, 3 label), b =
// labels finished in the domain, c = bytes so far, m1 = previous byte, m2 =
// bytes in the current label (local part or domain label).
bool email_step(Frame& f, uint8_t c) {
  if (f.c >= kMaxEmail) return false;
  const auto prev = static_cast<uint8_t>(f.m1);
  bool ok = false;
  switch (f.a) {
    case 0:
      ok = alnum(c) || c == '_' || c == '%' || c == '+' || c == '-';
      if (ok) f.a = 1;
      break;
    case 1:
      if (c == '@') {
        ok = prev != '.';
        if (ok) {
          f.a = 2;
          f.m2 = 0;
        }
      } else if (f.m2 < kMaxLocal) {
        ok = alnum(c) || c == '_' || c == '%' || c == '+' || c == '-' || (c == '.' && prev != '.');
      }
      break;
    case 2:
      ok = alnum(c);
      if (ok) f.a = 3;
      break;
    case 3:
      if (c == '.') {
        ok = prev != '-';
        if (ok) {
          f.a = 2;
          ++f.b;
          f.m2 = 0;
        }
      } else {
        ok = f.m2 < 63 && (alnum(c) || c == '-');
      }
      break;
    default: break;
  }
  if (!ok) return false;
  if (c != '@' && c != '.') ++f.m2;
  if (c == '.' && f.a == 1) ++f.m2;
  f.m1 = c;
  ++f.c;
  return true;
}

}  // namespace

std::optional<StringFormat> parse_string_format(std::string_view name) {
  if (name == "date") return StringFormat::date;
  if (name == "time") return StringFormat::time;
  if (name == "date-time") return StringFormat::date_time;
  if (name == "uuid") return StringFormat::uuid;
  if (name == "email") return StringFormat::email;
  return std::nullopt;
}

bool format_step(StringFormat fmt, Frame& f, uint8_t c) {
  switch (fmt) {
    case StringFormat::none: return true;
    case StringFormat::date:
      if (!date_ok(f.a, c, f.b)) return false;
      ++f.a;
      f.b = c;
      return true;
    case StringFormat::date_time:
      if (f.a < 10) {
        if (!date_ok(f.a, c, f.b)) return false;
        ++f.a;
        f.b = c;
        return true;
      }
      if (f.a == 10) {
        if (c != 'T') return false;
        f.a = 11;
        return true;
      }
      {
        int32_t s = f.a - 11;
        if (!time_step(&s, &f.b, &f.c, c)) return false;
        f.a = s + 11;
        return true;
      }
    case StringFormat::time: return time_step(&f.a, &f.b, &f.c, c);
    case StringFormat::uuid:
      if (f.a >= 36) return false;
      if (f.a == 8 || f.a == 13 || f.a == 18 || f.a == 23 ? c != '-' : !hex(c)) return false;
      ++f.a;
      return true;
    case StringFormat::email: return email_step(f, c);
  }
  return false;
}

bool format_accepts(StringFormat fmt, const Frame& f) {
  switch (fmt) {
    case StringFormat::none: return true;
    case StringFormat::date: return f.a == 10;
    case StringFormat::date_time: return f.a == 11 + kTimeAccept;
    case StringFormat::time: return f.a == kTimeAccept;
    case StringFormat::uuid: return f.a == 36;
    case StringFormat::email:
      return f.a == 3 && f.b >= 1 && f.m2 >= 2 && alpha(static_cast<uint8_t>(f.m1));
  }
  return false;
}

}  // namespace llmd::engine::structured

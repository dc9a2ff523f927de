#include "engine/tokenizer/regex_splitter.hpp"

#include <string>

#include "base/log.hpp"

#ifdef LLMD_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

namespace llmd::engine {

#ifdef LLMD_HAVE_PCRE2

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  std::string pattern;
  ~Compiled() {
    if (code) pcre2_code_free(code);
  }
};

namespace {

// Per-thread matching state: match data big enough for any of our patterns,
// a JIT stack large enough for long whitespace or letter runs, and a context
// bounding the work of the interpreter fallback.
struct ThreadState {
  pcre2_match_data* md = nullptr;
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* ctx = nullptr;
  ThreadState() {
    md = pcre2_match_data_create(32, nullptr);
    ctx = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (ctx && stack) pcre2_jit_stack_assign(ctx, nullptr, stack);
    if (ctx) pcre2_set_match_limit(ctx, 100000000);
  }
  ~ThreadState() {
    if (md) pcre2_match_data_free(md);
    if (ctx) pcre2_match_context_free(ctx);
    if (stack) pcre2_jit_stack_free(stack);
  }
  ThreadState(const ThreadState&) = delete;
  ThreadState& operator=(const ThreadState&) = delete;
};

ThreadState& thread_state() {
  thread_local ThreadState s;
  return s;
}

// Length of the UTF-8 character (or single invalid byte) at s[pos].
size_t char_len(std::string_view s, size_t pos) {
  const auto b = static_cast<uint8_t>(s[pos]);
  size_t n = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
  if (n > s.size() - pos) n = 1;
  for (size_t i = 1; i < n; ++i) {
    if ((static_cast<uint8_t>(s[pos + i]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

// Runs one match attempt; returns the pcre2 result code.
int match_once(const RegexSplitter::Compiled& re, ThreadState& ts, std::string_view s, size_t start,
               uint32_t options) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  int rc;
  if (re.jit && !(options & PCRE2_ANCHORED)) {  // the JIT does not take match-time anchoring
    rc = pcre2_jit_match(re.code, subject, s.size(), start, options, ts.md, ts.ctx);
    if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) return rc;
    // JIT stack or other limit: let the interpreter try.
  }
  rc = pcre2_match(re.code, subject, s.size(), start, options, ts.md, ts.ctx);
  return rc;
}

// Cuts `piece` with one expression, appending matches and gaps to `out`.
void cut(const RegexSplitter::Compiled& re, ThreadState& ts, std::string_view piece,
         std::vector<std::string_view>* out) {
  size_t last = 0;   // end of the previous piece emitted
  size_t start = 0;  // where the next search starts
  uint32_t options = 0;
  while (start <= piece.size()) {
    int rc = match_once(re, ts, piece, start, options);
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (options != 0) {
        // No non-empty match right after an empty one: step one character.
        options = 0;
        if (start >= piece.size()) break;
        start += char_len(piece, start);
        continue;
      }
      break;
    }
    if (rc < 0) {
      log::warnf("tokenizer: regular expression failed with PCRE2 error %d on a %zu-byte piece; keeping the rest "
                 "of the piece whole",
                 rc, piece.size());
      break;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(ts.md);
    const size_t ms = ov[0], me = ov[1];
    if (ms < last || me < ms || me > piece.size()) break;  // defensive: never emit overlapping pieces
    if (ms > last) out->push_back(piece.substr(last, ms - last));
    if (me > ms) {
      out->push_back(piece.substr(ms, me - ms));
      last = me;
      start = me;
      options = 0;
    } else {
      // Empty match: it only marks a boundary. Look for a non-empty match at
      // the same place before moving on.
      last = ms;
      start = ms;
      if (options != 0) {
        if (start >= piece.size()) break;
        start += char_len(piece, start);
        options = 0;
      } else {
        options = PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
      }
    }
  }
  if (last < piece.size()) out->push_back(piece.substr(last));
}

}  // namespace

Result<std::unique_ptr<RegexSplitter>> RegexSplitter::create(std::span<const std::string_view> patterns) {
  auto s = std::unique_ptr<RegexSplitter>(new RegexSplitter());
  uint32_t jit_ok = 0;
  pcre2_config(PCRE2_CONFIG_JIT, &jit_ok);
  for (std::string_view p : patterns) {
    auto c = std::make_unique<Compiled>();
    c->pattern = std::string(p);
    int err = 0;
    PCRE2_SIZE err_off = 0;
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &err, &err_off,
                            nullptr);
    if (!c->code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return Error(ErrorCode::tokenizer_bad_regex, "pre-tokenizer expression '" + c->pattern + "' does not compile at offset " +
                                              std::to_string(err_off) + ": " + reinterpret_cast<const char*>(msg));
    }
    if (jit_ok) c->jit = pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE) == 0;
    s->regexes_.push_back(std::move(c));
  }
  return s;
}

RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>* out) const {
  if (text.empty()) return;
  ThreadState& ts = thread_state();
  std::vector<std::string_view> cur{text}, next;
  for (const auto& re : regexes_) {
    next.clear();
    next.reserve(cur.size() * 2);
    for (std::string_view piece : cur) cut(*re, ts, piece, &next);
    cur.swap(next);
  }
  out->insert(out->end(), cur.begin(), cur.end());
}

bool RegexSplitter::available() { return true; }

#else  // !LLMD_HAVE_PCRE2

struct RegexSplitter::Compiled {};

Result<std::unique_ptr<RegexSplitter>> RegexSplitter::create(std::span<const std::string_view>) {
  return Error(ErrorCode::tokenizer_no_regex,
               "byte-level BPE tokenizers need PCRE2, and this build of llmd has none (install libpcre2-dev and "
               "rebuild)");
}

RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>* out) const {
  if (!text.empty()) out->push_back(text);
}

bool RegexSplitter::available() { return false; }

#endif

}  // namespace llmd::engine

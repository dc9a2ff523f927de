#include "daemon/http/router.hpp"

#include <algorithm>
#include <set>

namespace llmd::http {

namespace {

enum class SegKind { literal = 2, param = 1, rest = 0 };

struct Segment {
  SegKind kind;
  std::string text;  // literal text or parameter name
};

std::vector<std::string_view> split_path(std::string_view path) {
  // "/a/b" -> {"a","b"}; "/" -> {""}; "/a/" -> {"a",""}.
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

struct Router::Compiled {
  std::vector<Segment> segments;
};

Status Router::add(std::string_view method, std::string_view pattern, RouteOptions options, Handler handler) {
  if (method.empty() || pattern.empty() || pattern.front() != '/') {
    return Error(ErrorCode::route_invalid, "route pattern must start with '/': '" + std::string(pattern) + "'");
  }
  auto compiled = std::make_shared<Compiled>();
  auto parts = split_path(pattern);
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view p = parts[i];
    if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
      std::string_view name = p.substr(1, p.size() - 2);
      bool rest = name.size() > 3 && name.substr(name.size() - 3) == "...";
      if (rest) name.remove_suffix(3);
      if (!valid_name(name) || (rest && i + 1 != parts.size())) {
        return Error(ErrorCode::route_invalid, "bad parameter '" + std::string(p) + "' in route '" + std::string(pattern) + "'");
      }
      compiled->segments.push_back({rest ? SegKind::rest : SegKind::param, std::string(name)});
    } else if (p.find_first_of("{}") != std::string_view::npos) {
      return Error(ErrorCode::route_invalid, "bad segment '" + std::string(p) + "' in route '" + std::string(pattern) + "'");
    } else {
      compiled->segments.push_back({SegKind::literal, std::string(p)});
    }
  }
  for (const auto& r : routes_) {
    if (r.method == method && r.pattern == pattern) {
      return Error(ErrorCode::route_duplicate, "route " + std::string(method) + " " + std::string(pattern) + " added twice");
    }
  }
  routes_.push_back(Route{std::string(method), std::string(pattern), options, std::move(handler)});
  compiled_.push_back(std::move(compiled));
  return ok_status();
}

Status Router::set_body_limit(std::string_view pattern, std::size_t bytes) {
  bool any = false;
  for (auto& r : routes_) {
    if (r.pattern == pattern) {
      r.options.body_limit = bytes;
      any = true;
    }
  }
  if (!any) return Error(ErrorCode::route_unknown, "no route '" + std::string(pattern) + "'");
  return ok_status();
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match best;
  if (path.empty() || path.front() != '/') return best;
  auto parts = split_path(path);

  std::vector<int> best_score;
  std::set<std::string> allowed;
  for (size_t ri = 0; ri < routes_.size(); ++ri) {
    const auto& segs = compiled_[ri]->segments;
    std::vector<int> score;
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    size_t i = 0;
    for (; i < segs.size() && ok; ++i) {
      const Segment& s = segs[i];
      score.push_back(static_cast<int>(s.kind));
      if (s.kind == SegKind::rest) {
        if (i >= parts.size()) { ok = false; break; }
        // Everything from this segment on, slashes included.
        size_t offset = static_cast<size_t>(parts[i].data() - path.data());
        std::string_view rest = path.substr(offset);
        auto decoded = percent_decode(rest, false);
        if (rest.empty() || !decoded) { ok = false; break; }
        params.emplace_back(s.text, std::move(*decoded));
        i = segs.size();
        break;
      }
      if (i >= parts.size()) { ok = false; break; }
      if (s.kind == SegKind::literal) {
        ok = parts[i] == s.text;
      } else {
        auto decoded = percent_decode(parts[i], false);
        ok = !parts[i].empty() && decoded.has_value();
        if (ok) params.emplace_back(s.text, std::move(*decoded));
      }
    }
    if (!ok) continue;
    bool consumed_all = (!segs.empty() && segs.back().kind == SegKind::rest) || segs.size() == parts.size();
    if (!consumed_all) continue;

    const Route& r = routes_[ri];
    if (r.method != method) {
      allowed.insert(r.method);
      continue;
    }
    if (best.route == nullptr || score > best_score) {
      best.route = &r;
      best.params = std::move(params);
      best_score = std::move(score);
    }
  }
  if (best.route != nullptr) {
    best.kind = MatchKind::found;
  } else if (!allowed.empty()) {
    best.kind = MatchKind::method_not_allowed;
    for (const auto& m : allowed) {
      if (!best.allow.empty()) best.allow += ", ";
      best.allow += m;
    }
  }
  return best;
}

}  // namespace llmd::http

// recsys_audience: the nightly campaign export. For each coupon (all of the
// catalog, or --coupons), streams its audience from a running recsys_server
// (Recommender.FindAudience, with the segment / tier / recency / contact-cap
// filters given) and writes one file per campaign and segment:
//
//   <out_dir>/<campaign>__<segment>.csv    (or .jsonl with --format=jsonl)
//
// with the columns user_id, coupon_id, score, segment, tier,
// days_since_purchase, reason, interest_tags (joined by '|'),
// purchase_intent, churn_risk, next_purchase_unix. A campaign is the coupon's campaign field
// (its id when empty). A user eligible for several coupons of one campaign
// is written once, for the first coupon in the order processed (--coupons
// order, else catalog order). Files are written to a temporary name and
// renamed when complete, so a consumer never reads half a file.
//
// Exit code: 0 on success, 1 on an RPC or I/O error, 2 on a usage error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "access/client_channel.h"
#include "recsys/v1/recommender.grpc.pb.h"

ABSL_FLAG(std::string, target, "localhost:50051", "recsys_server address.");
ABSL_FLAG(std::string, api_key_file, "",
          "File holding the API key (scope marketing and admin; default: env RECSYS_API_KEY).");
ABSL_FLAG(std::string, tls_ca, "", "CA certificate (PEM) of the server: connect with TLS.");
ABSL_FLAG(std::string, tls_cert, "", "Client certificate (PEM), for a server with mutual TLS.");
ABSL_FLAG(std::string, tls_key, "", "Private key (PEM) of --tls_cert.");
ABSL_FLAG(std::string, coupons, "", "Comma-separated coupon ids (empty: the whole catalog).");
ABSL_FLAG(std::string, segments, "", "Comma-separated segments to keep (empty: all).");
ABSL_FLAG(std::string, tiers, "", "Comma-separated tiers to keep (empty: all).");
ABSL_FLAG(int, min_days, 0, "Minimum days since the last purchase.");
ABSL_FLAG(std::string, tags, "", "Comma-separated interest tags a user must all have.");
ABSL_FLAG(double, min_churn_risk, 0, "Keep users with at least this churn risk (0: all).");
ABSL_FLAG(int, due_within_days, 0,
          "Keep users whose next expected purchase is within this many days (0: all).");
ABSL_FLAG(int, contact_cap_days, 0,
          "Skip users contacted for the coupon's campaign within this many days.");
ABSL_FLAG(int, limit, 0, "Most users per coupon (0: every matching user).");
ABSL_FLAG(std::string, out_dir, "audiences", "Directory the files are written to.");
ABSL_FLAG(std::string, format, "csv", "csv or jsonl.");
ABSL_FLAG(int64_t, time, 0, "Time the audience is computed for, Unix seconds (0: now).");
ABSL_FLAG(int, timeout_s, 600, "Deadline of each FindAudience stream.");

namespace {

namespace v1 = recsys::v1;

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// One output file, written under a temporary name until Commit.
struct OutFile {
  std::string path;
  std::string tmp;
  std::ofstream out;
  int64_t rows = 0;
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Exports coupon audiences, one file per campaign and segment.\n"
      "  recsys_audience --target=host:port [--coupons=A,B] [--segments=dormant,deep_dormant]\n"
      "                  [--contact_cap_days=30] [--out_dir=DIR] [--format=csv|jsonl]");
  absl::ParseCommandLine(argc, argv);
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "csv" && format != "jsonl") {
    std::fprintf(stderr, "--format: expected csv or jsonl, got '%s'\n", format.c_str());
    return 2;
  }
  auto channel_options = recsys::access::ReadClientFiles({
      .target = absl::GetFlag(FLAGS_target),
      .api_key_file = absl::GetFlag(FLAGS_api_key_file),
      .api_key_env = std::getenv("RECSYS_API_KEY"),
      .tls_ca_file = absl::GetFlag(FLAGS_tls_ca),
      .tls_cert_file = absl::GetFlag(FLAGS_tls_cert),
      .tls_key_file = absl::GetFlag(FLAGS_tls_key),
  });
  auto connected = channel_options.ok() ? recsys::access::NewClientChannel(*channel_options)
                                        : channel_options.status();
  if (!connected.ok()) {
    std::fprintf(stderr, "%s\n", std::string(connected.status().message()).c_str());
    return 2;
  }
  std::shared_ptr<grpc::Channel> channel = *connected;
  auto admin = v1::Admin::NewStub(channel);
  auto rec = v1::Recommender::NewStub(channel);

  // The coupons and their campaigns.
  v1::CouponList catalog;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status st = admin->ListCoupons(&ctx, v1::ListCouponsRequest(), &catalog);
    if (!st.ok()) {
      std::fprintf(stderr, "ListCoupons: %s\n", st.error_message().c_str());
      return 1;
    }
  }
  std::map<std::string, std::string> campaign_of;
  std::vector<std::string> order;
  for (const auto& c : catalog.coupons()) {
    campaign_of[c.coupon().id()] =
        c.coupon().campaign().empty() ? c.coupon().id() : c.coupon().campaign();
    order.push_back(c.coupon().id());
  }
  if (!absl::GetFlag(FLAGS_coupons).empty()) {
    order.clear();
    for (absl::string_view id :
         absl::StrSplit(absl::GetFlag(FLAGS_coupons), ',', absl::SkipEmpty())) {
      if (!campaign_of.contains(std::string(id))) {
        std::fprintf(stderr, "--coupons: unknown coupon '%s'\n", std::string(id).c_str());
        return 2;
      }
      order.emplace_back(id);
    }
  }

  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "--out_dir: cannot create '%s': %s\n", out_dir.c_str(),
                 ec.message().c_str());
    return 1;
  }
  std::map<std::string, std::unique_ptr<OutFile>> files;  // campaign__segment
  std::map<std::string, absl::flat_hash_set<std::string>> written;  // per campaign
  auto file_for = [&](const std::string& campaign, const std::string& segment) -> OutFile* {
    const std::string name = absl::StrCat(campaign, "__", segment, ".", format);
    auto& f = files[name];
    if (f == nullptr) {
      f = std::make_unique<OutFile>();
      f->path = (std::filesystem::path(out_dir) / name).string();
      f->tmp = f->path + ".tmp";
      f->out.open(f->tmp, std::ios::trunc);
      if (format == "csv") {
        f->out << "user_id,coupon_id,score,segment,tier,days_since_purchase,reason,"
                  "recommendation_id,interest_tags,purchase_intent,churn_risk,next_purchase_unix\n";
      }
    }
    return f.get();
  };

  const auto started = std::chrono::steady_clock::now();
  for (const std::string& coupon : order) {
    const std::string& campaign = campaign_of[coupon];
    v1::FindAudienceRequest req;
    req.set_coupon_id(coupon);
    req.set_campaign(campaign);
    req.set_limit(absl::GetFlag(FLAGS_limit));
    req.mutable_context()->set_request_time_unix(absl::GetFlag(FLAGS_time));
    v1::AudienceFilters* filters = req.mutable_filters();
    for (absl::string_view s :
         absl::StrSplit(absl::GetFlag(FLAGS_segments), ',', absl::SkipEmpty())) {
      filters->add_segments(std::string(s));
    }
    for (absl::string_view t : absl::StrSplit(absl::GetFlag(FLAGS_tiers), ',', absl::SkipEmpty())) {
      filters->add_tiers(std::string(t));
    }
    filters->set_min_days_since_purchase(absl::GetFlag(FLAGS_min_days));
    filters->set_contact_cap_days(absl::GetFlag(FLAGS_contact_cap_days));
    for (absl::string_view t : absl::StrSplit(absl::GetFlag(FLAGS_tags), ',', absl::SkipEmpty())) {
      filters->add_tags(std::string(t));
    }
    filters->set_min_churn_risk(static_cast<float>(absl::GetFlag(FLAGS_min_churn_risk)));
    filters->set_due_within_days(absl::GetFlag(FLAGS_due_within_days));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s)));
    auto reader = rec->FindAudience(&ctx, req);
    v1::AudiencePage page;
    int64_t streamed = 0, kept = 0, held_out = 0;
    auto& seen = written[campaign];
    while (reader->Read(&page)) {
      for (const v1::AudienceMember& m : page.members()) {
        ++streamed;
        // A coupon experiment holds the campaign out for this user: no
        // coupon.
        if (m.held_out()) {
          ++held_out;
          continue;
        }
        if (!seen.insert(m.user_id()).second) continue;
        ++kept;
        OutFile* f = file_for(campaign, m.segment());
        if (format == "csv") {
          f->out << CsvField(m.user_id()) << ',' << CsvField(coupon) << ','
                 << absl::StrFormat("%.6f", m.score()) << ',' << m.segment() << ',' << m.tier()
                 << ',' << m.days_since_purchase() << ',' << CsvField(m.reason().text()) << ','
                 << CsvField(m.recommendation_id()) << ','
                 << CsvField(absl::StrJoin(m.interest_tags(), "|")) << ','
                 << absl::StrFormat("%.4f,%.4f", m.purchase_intent(), m.churn_risk()) << ','
                 << m.next_purchase_unix() << '\n';
        } else {
          f->out << "{\"user_id\":" << JsonString(m.user_id())
                 << ",\"coupon_id\":" << JsonString(coupon)
                 << ",\"score\":" << absl::StrFormat("%.6f", m.score())
                 << ",\"segment\":" << JsonString(m.segment())
                 << ",\"tier\":" << JsonString(m.tier())
                 << ",\"days_since_purchase\":" << m.days_since_purchase()
                 << ",\"reason\":" << JsonString(m.reason().text())
                 << ",\"recommendation_id\":" << JsonString(m.recommendation_id())
                 << ",\"interest_tags\":" << JsonString(absl::StrJoin(m.interest_tags(), "|"))
                 << ",\"purchase_intent\":" << absl::StrFormat("%.4f", m.purchase_intent())
                 << ",\"churn_risk\":" << absl::StrFormat("%.4f", m.churn_risk())
                 << ",\"next_purchase_unix\":" << m.next_purchase_unix() << "}\n";
        }
        ++f->rows;
      }
    }
    grpc::Status st = reader->Finish();
    if (!st.ok()) {
      std::fprintf(stderr, "FindAudience(%s): %s: %s\n", coupon.c_str(),
                   std::to_string(st.error_code()).c_str(), st.error_message().c_str());
      for (auto& [name, f] : files) std::filesystem::remove(f->tmp, ec);
      return 1;
    }
    std::printf(
        "%-20s campaign %-16s %8lld users streamed, %8lld held out, %8lld new "
        "to the campaign\n",
        coupon.c_str(), campaign.c_str(), static_cast<long long>(streamed),
        static_cast<long long>(held_out), static_cast<long long>(kept));
  }
  for (auto& [name, f] : files) {
    f->out.close();
    if (!f->out || std::rename(f->tmp.c_str(), f->path.c_str()) != 0) {
      std::fprintf(stderr, "cannot write %s\n", f->path.c_str());
      return 1;
    }
    std::printf("wrote %-48s %8lld rows\n", f->path.c_str(), static_cast<long long>(f->rows));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%zu file(s) in %.2f s\n", files.size(), seconds);
  return 0;
}

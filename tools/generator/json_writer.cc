#include "tools/generator/json_writer.h"

#include <cstdint>

#include "google/protobuf/util/json_util.h"

namespace crm::generator {

namespace v1 = ::crm::v1;

namespace {

// Writes one message; `ok_` turns false when a value needs a rendering this
// writer does not reproduce, and the caller falls back to protobuf.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  bool ok() const { return ok_; }

  void Envelope(const v1::Envelope& e) {
    bool f = true;
    out_->push_back('{');
    Str(f, "eventId", e.event_id());
    Str(f, "customerId", e.customer_id());
    if (e.has_occurred_at()) Time(f, "occurredAt", e.occurred_at());
    if (e.has_recorded_at()) Time(f, "recordedAt", e.recorded_at());
    Enum(f, "channel", e.channel(), v1::Channel_Name(e.channel()));
    Str(f, "actor", e.actor());
    U32(f, "schemaVersion", e.schema_version());
    switch (e.body_case()) {
      case v1::Envelope::kCustomerRegistered: {
        Key(f, "customerRegistered");
        bool g = true;
        out_->push_back('{');
        if (e.customer_registered().has_profile()) {
          Key(g, "profile");
          Profile(e.customer_registered().profile());
        }
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kProfileUpdated: {
        Key(f, "profileUpdated");
        bool g = true;
        out_->push_back('{');
        if (e.profile_updated().has_profile()) {
          Key(g, "profile");
          Profile(e.profile_updated().profile());
        }
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kVisitLogged: {
        const v1::VisitLogged& m = e.visit_logged();
        Key(f, "visitLogged");
        bool g = true;
        out_->push_back('{');
        Enum(g, "kind", m.kind(), v1::VisitKind_Name(m.kind()));
        U32(g, "durationMinutes", m.duration_minutes());
        Str(g, "notes", m.notes());
        if (m.has_next_follow_up_at()) {
          Time(g, "nextFollowUpAt", m.next_follow_up_at());
        }
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kCallLogged: {
        const v1::CallLogged& m = e.call_logged();
        Key(f, "callLogged");
        bool g = true;
        out_->push_back('{');
        Enum(g, "direction", m.direction(),
             v1::CallDirection_Name(m.direction()));
        U32(g, "durationSeconds", m.duration_seconds());
        Enum(g, "outcome", m.outcome(), v1::CallOutcome_Name(m.outcome()));
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kLeadQualified: {
        const v1::LeadQualified& m = e.lead_qualified();
        Key(f, "leadQualified");
        bool g = true;
        out_->push_back('{');
        Str(g, "source", m.source());
        U32(g, "score", m.score());
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kOpportunityUpdated: {
        const v1::OpportunityUpdated& m = e.opportunity_updated();
        Key(f, "opportunityUpdated");
        bool g = true;
        out_->push_back('{');
        Str(g, "opportunityId", m.opportunity_id());
        Enum(g, "stage", m.stage(), v1::OpportunityStage_Name(m.stage()));
        U32(g, "winProbabilityPct", m.win_probability_pct());
        if (m.has_expected_amount()) {
          MoneyField(g, "expectedAmount", m.expected_amount());
        }
        if (m.has_expected_close_at()) {
          Time(g, "expectedCloseAt", m.expected_close_at());
        }
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kOrderPlaced: {
        const v1::OrderPlaced& m = e.order_placed();
        Key(f, "orderPlaced");
        bool g = true;
        out_->push_back('{');
        Str(g, "orderId", m.order_id());
        if (m.has_amount()) MoneyField(g, "amount", m.amount());
        if (m.has_gross_profit())
          MoneyField(g, "grossProfit", m.gross_profit());
        if (m.has_discount()) MoneyField(g, "discount", m.discount());
        if (m.has_financing_cost()) {
          MoneyField(g, "financingCost", m.financing_cost());
        }
        U32(g, "quantity", m.quantity());
        Str(g, "productCategory", m.product_category());
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kOrderCancelled: {
        const v1::OrderCancelled& m = e.order_cancelled();
        Key(f, "orderCancelled");
        bool g = true;
        out_->push_back('{');
        Str(g, "orderId", m.order_id());
        Str(g, "reason", m.reason());
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kOrderReturned: {
        const v1::OrderReturned& m = e.order_returned();
        Key(f, "orderReturned");
        bool g = true;
        out_->push_back('{');
        Str(g, "orderId", m.order_id());
        if (m.has_refund_amount()) {
          MoneyField(g, "refundAmount", m.refund_amount());
        }
        U32(g, "quantity", m.quantity());
        Str(g, "reason", m.reason());
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kPaymentReceived: {
        const v1::PaymentReceived& m = e.payment_received();
        Key(f, "paymentReceived");
        bool g = true;
        out_->push_back('{');
        Str(g, "invoiceId", m.invoice_id());
        if (m.has_amount()) MoneyField(g, "amount", m.amount());
        U32(g, "daysLate", m.days_late());
        if (m.has_outstanding()) MoneyField(g, "outstanding", m.outstanding());
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kComplaintOpened: {
        const v1::ComplaintOpened& m = e.complaint_opened();
        Key(f, "complaintOpened");
        bool g = true;
        out_->push_back('{');
        Str(g, "complaintId", m.complaint_id());
        Enum(g, "severity", m.severity(),
             v1::ComplaintSeverity_Name(m.severity()));
        Enum(g, "category", m.category(),
             v1::ComplaintCategory_Name(m.category()));
        Enum(g, "raisedVia", m.raised_via(), v1::Channel_Name(m.raised_via()));
        Str(g, "summary", m.summary());
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kComplaintResolved: {
        const v1::ComplaintResolved& m = e.complaint_resolved();
        Key(f, "complaintResolved");
        bool g = true;
        out_->push_back('{');
        Str(g, "complaintId", m.complaint_id());
        Enum(g, "resolution", m.resolution(),
             v1::ComplaintResolution_Name(m.resolution()));
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kSurveyAnswered: {
        const v1::SurveyAnswered& m = e.survey_answered();
        Key(f, "surveyAnswered");
        bool g = true;
        out_->push_back('{');
        Str(g, "surveyId", m.survey_id());
        if (m.has_csat()) {
          Key(g, "csat");
          Digits(m.csat());
        }
        if (m.has_nps()) {
          Key(g, "nps");
          Digits(m.nps());
        }
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kWalletEstimated: {
        const v1::WalletEstimated& m = e.wallet_estimated();
        Key(f, "walletEstimated");
        bool g = true;
        out_->push_back('{');
        if (m.has_category_spend()) {
          MoneyField(g, "categorySpend", m.category_spend());
        }
        if (m.has_planned_purchases()) {
          MoneyField(g, "plannedPurchases", m.planned_purchases());
        }
        out_->push_back('}');
        break;
      }
      case v1::Envelope::kCustomerRegraded: {
        const v1::CustomerRegraded& m = e.customer_regraded();
        Key(f, "customerRegraded");
        bool g = true;
        out_->push_back('{');
        // A set oneof member is printed even when it holds the default.
        switch (m.target_case()) {
          case v1::CustomerRegraded::kValueTier:
            Key(g, "valueTier");
            EnumValue(m.value_tier(), v1::ValueTier_Name(m.value_tier()));
            break;
          case v1::CustomerRegraded::kCustomerClass:
            Key(g, "customerClass");
            EnumValue(m.customer_class(),
                      v1::CustomerClass_Name(m.customer_class()));
            break;
          case v1::CustomerRegraded::kStars:
            Key(g, "stars");
            Digits(m.stars());
            break;
          default:
            break;
        }
        Str(g, "reason", m.reason());
        if (m.has_expires_at()) Time(g, "expiresAt", m.expires_at());
        out_->push_back('}');
        break;
      }
      default:
        break;
    }
    out_->push_back('}');
    // Unknown fields would be dropped by both printers; nothing to do.
  }

 private:
  void Key(bool& first, const char* name) {
    if (!first) out_->push_back(',');
    first = false;
    out_->push_back('"');
    out_->append(name);
    out_->push_back('"');
    out_->push_back(':');
  }

  void Quoted(const std::string& s) {
    out_->push_back('"');
    for (const char ch : s) {
      // Only characters that no JSON printer escapes are written as they
      // are; anything else sends the whole message to protobuf's printer.
      const bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                         (ch >= '0' && ch <= '9') || ch == ' ' || ch == '-' ||
                         ch == '_' || ch == '.' || ch == '@' || ch == '+' ||
                         ch == ':' || ch == ',' || ch == '/' || ch == '(' ||
                         ch == ')' || ch == '#' || ch == '!' || ch == '?' ||
                         ch == '*' || ch == ';' || ch == '%' || ch == '$';
      if (!plain) ok_ = false;
    }
    out_->append(s);
    out_->push_back('"');
  }

  void Str(bool& first, const char* name, const std::string& s) {
    if (s.empty()) return;
    Key(first, name);
    Quoted(s);
  }

  void Digits(uint64_t v) {
    char buf[24];
    int n = 0;
    do {
      buf[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) out_->push_back(buf[--n]);
  }

  void Signed(int64_t v) {
    if (v < 0) {
      out_->push_back('-');
      Digits(static_cast<uint64_t>(0) - static_cast<uint64_t>(v));
    } else {
      Digits(static_cast<uint64_t>(v));
    }
  }

  void U32(bool& first, const char* name, uint32_t v) {
    if (v == 0) return;
    Key(first, name);
    Digits(v);
  }

  void I32(bool& first, const char* name, int32_t v) {
    if (v == 0) return;
    Key(first, name);
    Signed(v);
  }

  void EnumValue(int value, const std::string& name) {
    if (name.empty()) {
      Signed(value);  // not a value of the enum: printed as a number
      return;
    }
    out_->push_back('"');
    out_->append(name);
    out_->push_back('"');
  }

  void Enum(bool& first, const char* name, int value,
            const std::string& value_name) {
    if (value == 0) return;
    Key(first, name);
    EnumValue(value, value_name);
  }

  void MoneyField(bool& first, const char* name, const v1::Money& m) {
    Key(first, name);
    bool g = true;
    out_->push_back('{');
    if (m.minor_units() != 0) {
      Key(g, "minorUnits");
      out_->push_back('"');
      Signed(m.minor_units());
      out_->push_back('"');
    }
    Str(g, "currency", m.currency());
    out_->push_back('}');
  }

  void Two(int v) {
    out_->push_back(static_cast<char>('0' + v / 10));
    out_->push_back(static_cast<char>('0' + v % 10));
  }

  // RFC 3339 in UTC. Whole seconds from 1970 to 9999 only; the rest (nanos,
  // earlier instants) goes to protobuf's printer.
  void Time(bool& first, const char* name,
            const google::protobuf::Timestamp& ts) {
    Key(first, name);
    const int64_t secs = ts.seconds();
    if (ts.nanos() != 0 || secs < 0 || secs > 253402300799LL) {
      ok_ = false;
      return;
    }
    // Days to civil date (H. Hinnant's algorithm).
    const int64_t z = secs / 86400 + 719468;
    const int64_t sod = secs % 86400;
    const int64_t era = z / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    out_->push_back('"');
    Two(static_cast<int>(y / 100));
    Two(static_cast<int>(y % 100));
    out_->push_back('-');
    Two(m);
    out_->push_back('-');
    Two(d);
    out_->push_back('T');
    Two(static_cast<int>(sod / 3600));
    out_->push_back(':');
    Two(static_cast<int>(sod / 60 % 60));
    out_->push_back(':');
    Two(static_cast<int>(sod % 60));
    out_->append("Z\"");
  }

  void Profile(const v1::CustomerProfile& p) {
    bool f = true;
    out_->push_back('{');
    Str(f, "name", p.name());
    Enum(f, "relationshipType", p.relationship_type(),
         v1::RelationshipType_Name(p.relationship_type()));
    Enum(f, "ownership", p.ownership(), v1::Ownership_Name(p.ownership()));
    Enum(f, "businessNature", p.business_nature(),
         v1::BusinessNature_Name(p.business_nature()));
    Enum(f, "locationType", p.location_type(),
         v1::LocationType_Name(p.location_type()));
    Str(f, "region", p.region());
    Str(f, "industry", p.industry());
    Str(f, "accountManager", p.account_manager());
    if (p.has_birthday()) {
      Key(f, "birthday");
      bool g = true;
      out_->push_back('{');
      I32(g, "year", p.birthday().year());
      I32(g, "month", p.birthday().month());
      I32(g, "day", p.birthday().day());
      out_->push_back('}');
    }
    Enum(f, "industryPosition", p.industry_position(),
         v1::IndustryPosition_Name(p.industry_position()));
    if (p.contacts_size() > 0) {
      Key(f, "contacts");
      out_->push_back('[');
      for (int i = 0; i < p.contacts_size(); ++i) {
        if (i > 0) out_->push_back(',');
        const v1::Contact& c = p.contacts(i);
        bool g = true;
        out_->push_back('{');
        Str(g, "name", c.name());
        Str(g, "role", c.role());
        Str(g, "phone", c.phone());
        Str(g, "email", c.email());
        out_->push_back('}');
      }
      out_->push_back(']');
    }
    out_->push_back('}');
  }

  std::string* out_;
  bool ok_ = true;
};

}  // namespace

bool AppendEnvelopeJsonByReflection(const v1::Envelope& event,
                                    std::string* out) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;  // single line
  if (!google::protobuf::util::MessageToJsonString(event, &json, options)
           .ok()) {
    return false;
  }
  out->append(json);
  return true;
}

void AppendEnvelopeJson(const v1::Envelope& event, std::string* out) {
  const size_t mark = out->size();
  Writer w(out);
  w.Envelope(event);
  if (w.ok() && event.GetReflection()->GetUnknownFields(event).empty()) {
    return;
  }
  out->resize(mark);
  AppendEnvelopeJsonByReflection(event, out);
}

}  // namespace crm::generator

"""Word lists for the sample data: names, products, subjects and comments.

Everything here is made up. E-mail addresses use only the reserved domains
example.com, example.org and example.net (RFC 2606), so nothing can reach a real inbox.
"""

from __future__ import annotations

import unicodedata

# Company names are <first word> <second word> <legal form>; 64 x 64 x 10 combinations.
COMPANY_FIRST = (
    "Acme", "Northwind", "Blue Harbor", "Silverline", "Redwood", "Summit", "Brightwater",
    "Ironbridge", "Greenfield", "Oakridge", "Stonegate", "Clearview", "Highland", "Riverside",
    "Sunrise", "Evergreen", "Granite", "Maple", "Cedar", "Falcon", "Harbor Point", "Lakeside",
    "Golden Gate", "Pinecrest", "Westbrook", "Eastwind", "Crescent", "Horizon", "Keystone",
    "Lighthouse", "Meridian", "Nordlicht", "Orchid", "Pioneer", "Quantum", "Sapphire",
    "Tidewater", "Union", "Vanguard", "Willow", "Zenith", "Aurora", "Beacon", "Cobalt",
    "Delta", "Emerald", "Fjord", "Glacier", "Helios", "Indigo", "Juniper", "Kestrel",
    "Lumière", "Müller", "Nakamura", "Olivares", "Prairie", "São Bento", "Tannenbaum",
    "Ümit", "Vela", "Wanderlust", "Yarrow", "Zürich",
)
COMPANY_SECOND = (
    "Logistics", "Foods", "Analytics", "Health", "Energy", "Retail", "Manufacturing",
    "Capital", "Media", "Pharma", "Systems", "Robotics", "Textiles", "Farms", "Motors",
    "Airlines", "Hotels", "Insurance", "Bank", "Telecom", "Software", "Labs", "Studios",
    "Freight", "Mining", "Chemicals", "Brewing", "Outfitters", "Dental", "Clinics",
    "Education", "Publishing", "Marine", "Aerospace", "Construction", "Design", "Security",
    "Networks", "Semiconductors", "Biotech", "Water", "Solar", "Wind", "Paper", "Glass",
    "Steel", "Furniture", "Toys", "Apparel", "Cosmetics", "Optics", "Instruments",
    "Consulting", "Legal", "Realty", "Travel", "Events", "Sports", "Gaming", "Music",
    "Pet Care", "Bakeries", "Cafés", "Gastronomie",
)
LEGAL_FORMS = ("Inc", "Ltd", "LLC", "GmbH", "SA", "SARL", "BV", "plc", "Corp", "Co")

FIRST_NAMES = (
    "Maria", "James", "Aisha", "Chen", "Sofia", "Liam", "Fatima", "Noah", "Yuki", "Olivia",
    "Mateo", "Emma", "Ravi", "Hannah", "Lucas", "Amara", "Ethan", "Zoë", "Omar", "Isabella",
    "Kenji", "Chloé", "Daniel", "Priya", "Jonas", "Léa", "Samuel", "Ingrid", "Diego", "Mei",
    "Aleksandr", "Nora", "Tomás", "Grace", "Björn", "Ana", "Kwame", "Elif", "Hugo", "Sara",
    "Mohammed", "Julia", "Pedro", "Freya", "Arjun", "Clara", "Dmitri", "Ines",
)
LAST_NAMES = (
    "Garcia", "Smith", "Okafor", "Wang", "Rossi", "Murphy", "Haddad", "Johansson", "Tanaka",
    "Brown", "Fernández", "Müller", "Patel", "Nguyen", "Dubois", "Kowalski", "Silva", "Jensen",
    "O'Brien", "Kim", "Novak", "Ibrahim", "Lindqvist", "Costa", "Schmidt", "Yamamoto",
    "Andersen", "Moreau", "Popescu", "Mensah", "Larsen", "Ruiz", "Walsh", "Sato", "Khan",
    "Bianchi", "Hoffmann", "Álvarez", "Petrov", "Nakamura", "Cohen", "Ferreira", "Eriksson",
    "Byrne", "Singh", "Lefèvre", "Horvat", "Doyle",
)

MANAGER_TEAMS = ("Strategic Accounts", "Enterprise East", "Enterprise West", "Growth", "EMEA")

CONTACT_ROLES = (
    "CFO", "Head of Operations", "IT Director", "Procurement Manager", "Data Analyst",
    "VP Sales", "Office Manager", "CEO", "Customer Success Lead", "Finance Controller",
)

INDUSTRIES = (
    "Software", "Manufacturing", "Retail", "Healthcare", "Financial Services", "Logistics",
    "Education", "Media", "Energy", "Hospitality", "Public Sector", "Professional Services",
)

# (region, weight) per billing currency.
REGIONS_BY_CURRENCY = {
    "usd": (("NA-East", 0.45), ("NA-West", 0.35), ("LATAM", 0.1), ("APAC", 0.1)),
    "eur": (("EMEA", 1.0),),
    "gbp": (("UK&I", 1.0),),
    "cad": (("NA-East", 0.6), ("NA-West", 0.4)),
}

CORE_PRODUCT = "Core Platform"
ADDON_PRODUCTS = ("Analytics add-on", "Premium Support", "API Access", "Data Connectors")
# An add-on's MRR as a share of the core subscription's MRR.
ADDON_SHARE = (0.22, 0.15, 0.10, 0.12)
TRIAL_PRODUCT = "Data Connectors"

ACTIVITY_SUBJECTS = {
    "call": ("Check-in call", "Renewal discussion", "Call about open ticket", "Budget planning call"),
    "email": ("Follow-up on last meeting", "Monthly report sent", "Invoice question answered",
              "Product update: new dashboards", "Re: onboarding plan"),
    "meeting": ("Roadmap review", "Onboarding workshop", "Stakeholder meeting", "Training session"),
    "qbr": ("Quarterly business review", "QBR and success plan", "Executive business review"),
    "visit": ("On-site visit", "Office visit and lunch", "Site visit: warehouse rollout"),
    "other": ("Conference meet-up", "Webinar attendance", "LinkedIn message"),
}

TICKET_SUBJECTS = (
    "Cannot log in", "Report export fails", "Data sync delayed", "Invoice amount question",
    "API rate limit reached", "Feature request: SSO", "Dashboard shows wrong totals",
    "Password reset e-mail not received", "Slow page loads", "Connector to ERP broken",
    "How do I add a user?", "Error 500 on upload", "Timezone wrong in \"Activity\" view",
    "Problème d'accès au tableau de bord", "CSV import, special characters garbled",
)

OPEN_STAGES = ("Qualification", "Discovery", "Proposal", "Negotiation")
STAGE_WON = "Closed Won"
STAGE_LOST = "Closed Lost"

# Survey comments by sentiment: some with commas, quotes and non-Latin text on purpose.
COMMENTS_POSITIVE = (
    "Great service, fast answers.",
    "Très bien, merci !",
    "非常好",
    "Our account manager is \"the best\" we have worked with.",
    "Reliable, easy to use, and the reports save us hours.",
    "Sehr zufrieden mit dem Support.",
    "Отличный сервис",
    "Love the new dashboards 👍",
)
COMMENTS_NEUTRAL = (
    "Fine overall, some reports are slow.",
    "OK. Pricing could be clearer.",
    "Does the job; onboarding took a while.",
    "Bien, pero el soporte tarda un poco.",
    "まあまあです",
)
COMMENTS_NEGATIVE = (
    "Too many outages, and support is slow.",
    "Invoices are confusing; we were billed twice.",
    "We feel ignored since our \"dedicated\" manager changed.",
    "Pas satisfait du tout.",
    "The API keeps timing out, please fix.",
    "ممتاز في البداية، لكن الخدمة ساءت",
)

OVERRIDE_REASONS = (
    ("red", "Executive sponsor left; renewal at risk despite good scores"),
    ("green", "Escalation resolved at the QBR; scores lag behind"),
    ("amber", "Budget freeze announced by the client"),
    ("red", "Legal dispute about the last invoice"),
)

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
COMPANY_DOMAIN = "example.com"  # the account managers' own company


def ascii_slug(text: str) -> str:
    """'Zoë O'Brien' -> 'zoe.obrien'-style fragments usable in an e-mail local part."""
    norm = unicodedata.normalize("NFKD", text)
    out = "".join(c for c in norm if c.isascii() and (c.isalnum() or c in " -"))
    return out.strip().lower().replace(" ", "-")

"""Word lists and catalogues the generator draws from: names, places, trades, the
pricebook and membership plans of a typical residential service company."""

from __future__ import annotations

TRADES: tuple[str, ...] = ("HVAC", "Plumbing", "Electrical")

# (branch, city, state)
BRANCHES: tuple[tuple[str, str, str], ...] = (
    ("North", "Denver", "CO"),
    ("South", "Austin", "TX"),
    ("East", "Atlanta", "GA"),
    ("West", "Phoenix", "AZ"),
)

CITIES: dict[str, list[str]] = {
    "Denver": ["Denver", "Aurora", "Lakewood", "Arvada", "Westminster"],
    "Austin": ["Austin", "Round Rock", "Cedar Park", "Pflugerville", "Georgetown"],
    "Atlanta": ["Atlanta", "Marietta", "Decatur", "Smyrna", "Roswell"],
    "Phoenix": ["Phoenix", "Tempe", "Mesa", "Chandler", "Scottsdale"],
}

TAX_ZONES: tuple[tuple[str, str], ...] = (
    ("Denver County", "8.81"),
    ("Travis County", "8.25"),
    ("Fulton County", "8.90"),
    ("Maricopa County", "8.60"),
    ("Unincorporated", "6.25"),
)

SKILLS: tuple[str, ...] = (
    "HVAC General",
    "Furnace",
    "Air Conditioning",
    "Plumbing General",
    "Water Heater",
    "Drain Cleaning",
    "Electrical General",
    "Panel Upgrade",
    "Generator",
)

# trade -> (job type, required skill, default minutes)
JOB_TYPES: dict[str, list[tuple[str, str, int]]] = {
    "HVAC": [
        ("AC Repair", "Air Conditioning", 120),
        ("Furnace Repair", "Furnace", 120),
        ("HVAC Maintenance", "HVAC General", 90),
        ("HVAC Install", "Air Conditioning", 480),
    ],
    "Plumbing": [
        ("Leak Repair", "Plumbing General", 90),
        ("Water Heater Replacement", "Water Heater", 240),
        ("Drain Cleaning", "Drain Cleaning", 90),
        ("Plumbing Inspection", "Plumbing General", 60),
    ],
    "Electrical": [
        ("Electrical Troubleshooting", "Electrical General", 120),
        ("Panel Upgrade", "Panel Upgrade", 360),
        ("Generator Install", "Generator", 480),
        ("Outlet & Lighting", "Electrical General", 90),
    ],
}

# trade -> (service, price, hours)
SERVICES: dict[str, list[tuple[str, str, str]]] = {
    "HVAC": [
        ("Diagnostic Fee", "89.00", "1.0"),
        ("AC Tune-up", "129.00", "1.5"),
        ("Furnace Tune-up", "119.00", "1.5"),
        ("Capacitor Replacement", "245.00", "1.0"),
        ("Blower Motor Replacement", "685.00", "3.0"),
        ("Refrigerant Recharge", "395.00", "2.0"),
        ("Thermostat Installation", "225.00", "1.0"),
        ("Duct Cleaning", "449.00", "4.0"),
    ],
    "Plumbing": [
        ("Diagnostic Fee", "79.00", "1.0"),
        ("Drain Clearing", "189.00", "1.5"),
        ("Faucet Replacement", "245.00", "1.5"),
        ("Toilet Repair", "175.00", "1.0"),
        ("Water Heater Flush", "149.00", "1.0"),
        ("Sewer Camera Inspection", "299.00", "1.5"),
        ("Leak Detection", "325.00", "2.0"),
    ],
    "Electrical": [
        ("Diagnostic Fee", "99.00", "1.0"),
        ("Outlet Replacement", "149.00", "0.5"),
        ("Breaker Replacement", "235.00", "1.0"),
        ("Ceiling Fan Installation", "289.00", "2.0"),
        ("Whole-home Surge Protector", "495.00", "1.5"),
        ("Panel Inspection", "189.00", "1.0"),
        ("EV Charger Installation", "1195.00", "4.0"),
    ],
}

# trade -> (material, price, unit)
MATERIALS: dict[str, list[tuple[str, str, str]]] = {
    "HVAC": [
        ("Air Filter 16x25x1", "24.99", "each"),
        ("Run Capacitor 45/5 MFD", "64.50", "each"),
        ("R-410A Refrigerant", "89.00", "lb"),
        ("Contactor 30A", "48.75", "each"),
        ("Condensate Pump", "129.00", "each"),
    ],
    "Plumbing": [
        ("PEX Pipe 1/2in", "1.85", "ft"),
        ("Shut-off Valve", "18.40", "each"),
        ("Wax Ring", "7.95", "each"),
        ("P-Trap Kit", "15.25", "each"),
        ("Flex Water Heater Connector", "22.10", "each"),
    ],
    "Electrical": [
        ("20A Breaker", "38.00", "each"),
        ("GFCI Outlet", "29.95", "each"),
        ("12/2 Romex Wire", "1.35", "ft"),
        ("Wire Nuts (bag)", "6.50", "bag"),
        ("LED Fixture", "74.00", "each"),
    ],
}

# (equipment, manufacturer, model, price, warranty months)
EQUIPMENT: tuple[tuple[str, str, str, str, int], ...] = (
    ("Central Air Conditioner 3 Ton", "Carrier", "24ACC636A003", "5400.00", 120),
    ("Gas Furnace 80k BTU", "Trane", "S9V2B080U3", "3900.00", 120),
    ("Heat Pump 4 Ton", "Lennox", "XP25-048", "7800.00", 120),
    ("Tank Water Heater 50 gal", "Rheem", "XG50T06EC36U1", "1650.00", 72),
    ("Tankless Water Heater", "Rinnai", "RU199iN", "3200.00", 144),
    ("Standby Generator 22kW", "Generac", "7043", "6900.00", 60),
    ("Smart Thermostat", "ecobee", "EB-STATE6-01", "249.00", 36),
)

# (name, discount percent, billing frequency, price)
MEMBERSHIP_TYPES: tuple[tuple[str, str, str, str], ...] = (
    ("Comfort Club Basic", "10", "Annual", "179.00"),
    ("Comfort Club Plus", "15", "Annual", "279.00"),
    ("Plumbing Protection Plan", "10", "Monthly", "14.95"),
    ("Whole Home Care", "20", "Monthly", "29.95"),
)

# (payment type name, typeId)
PAYMENT_METHODS: tuple[tuple[str, int], ...] = (
    ("Credit Card", 1),
    ("Credit Card", 1),
    ("ACH", 2),
    ("Check", 3),
)

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty",
    "Mark", "Sandra", "Luis", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Kevin",
    "Donna", "Brian", "Michelle", "Priya", "Wei", "Fatima", "Diego", "Aisha", "Tomás",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Nguyen", "Patel", "Kim", "O'Brien", "Müller",
)  # fmt: skip

COMPANY_SUFFIXES: tuple[str, ...] = (
    "Property Management", "Holdings LLC", "Apartments", "Dental Group", "Restaurants Inc",
    "Office Park", "Realty", "Storage", "Auto Care", "Fitness",
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Washington Blvd",
    "Lake Rd", "Hill St", "Sunset Blvd", "Park Ave", "Ridge Rd", "Meadow Ln", "River Rd",
    "Highland Ave", "Mesa Dr", "Canyon Rd", "Willow Way", "Aspen Ct", "Juniper St",
)  # fmt: skip

//! The generated programme's calendar: the 18 months of history, the recruitment and fission
//! campaigns with their welcome coupons, the sales that hand out promo coupons, and when in the
//! day people (and farms) act.
//!
//! Campaigns are a fixed table, not drawn from the seed, so that every generated set runs the
//! same programme and sets of different sizes stay comparable.

use rand::Rng;

use super::dist::uniform;

pub const MINUTE: i64 = 60;
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// UTC seconds of a date and hour (UTC).
pub const fn utc(y: i64, m: i64, d: i64, h: i64) -> i64 {
    days_from_civil(y, m, d) * DAY + h * HOUR
}

/// First moment of the history (2023-07-01T00:00Z).
pub const START: i64 = utc(2023, 7, 1, 0);
/// End of the history, exclusive (2025-01-01T00:00Z): ~18 months.
pub const END: i64 = utc(2025, 1, 1, 0);
/// Members join until two weeks before the end, so the newest still show some behaviour.
pub const LAST_JOIN: i64 = END - 14 * DAY;
/// Points earned in 2023 and not spent expire at this moment (mid-2024).
pub const POINTS_EXPIRY: i64 = utc(2024, 7, 1, 0);
pub const YEAR_2024: i64 = utc(2024, 1, 1, 0);

/// 20:00 and 10:00 in China (UTC+8), the usual campaign opening hours, in UTC.
const EVENING: i64 = 12;
const MORNING: i64 = 2;

/// A recruitment campaign: new members joining while it runs get its welcome coupon (or, when
/// invited during a fission campaign, its fission coupon).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Campaign {
    pub id: &'static str,
    /// One of `schema::CHANNELS`.
    pub channel: &'static str,
    pub start: i64,
    pub days: i64,
    /// A fission (invite) campaign: inviters are rewarded per friend who joins.
    pub fission: bool,
    pub face: f64,
    pub threshold: f64,
    /// Relative number of genuine sign-ups it brings.
    pub reach: f64,
}

impl Campaign {
    pub fn end(&self) -> i64 {
        self.start + self.days * DAY
    }

    /// How attractive the coupon is to someone who only wants the coupon: face value against
    /// the smallest basket that unlocks it.
    pub fn generosity(&self) -> f64 {
        self.face / self.threshold.max(20.0)
    }

    /// The same campaign as a fission (invite) campaign.
    const fn with_invites(self) -> Campaign {
        Campaign {
            fission: true,
            ..self
        }
    }
}

const fn campaign(
    id: &'static str,
    channel: &'static str,
    start: i64,
    days: i64,
    face: f64,
    threshold: f64,
    reach: f64,
) -> Campaign {
    Campaign {
        id,
        channel,
        start,
        days,
        fission: false,
        face,
        threshold,
        reach,
    }
}

// id, channel, opens at (UTC), days, welcome coupon face value and threshold, reach.
#[rustfmt::skip]
pub const CAMPAIGNS: &[Campaign] = &[
    campaign("rc-2307-summer-tmall", "tmall", utc(2023, 7, 3, EVENING), 28, 20.0, 99.0, 1.0),
    campaign("rc-2307-launch-wxmini", "wechat_mini", utc(2023, 7, 15, MORNING), 21, 10.0, 0.0, 0.7),
    campaign("rc-2308-qixi-douyin", "douyin", utc(2023, 8, 10, EVENING), 14, 15.0, 79.0, 0.7),
    campaign("rc-2309-school-app", "app", utc(2023, 9, 1, MORNING), 30, 20.0, 129.0, 0.6),
    campaign("fx-2309-invite-wxmini", "wechat_mini", utc(2023, 9, 15, EVENING), 21, 15.0, 59.0, 1.0).with_invites(),
    campaign("rc-2310-golden-week-jd", "jd", utc(2023, 10, 1, MORNING), 7, 30.0, 199.0, 0.7),
    campaign("rc-2310-double11-tmall", "tmall", utc(2023, 10, 24, EVENING), 20, 50.0, 299.0, 2.0),
    campaign("rc-2311-double11-jd", "jd", utc(2023, 11, 1, EVENING), 12, 40.0, 249.0, 1.2),
    campaign("rc-2312-double12-douyin", "douyin", utc(2023, 12, 5, EVENING), 10, 30.0, 159.0, 0.8),
    campaign("rc-2312-stores-pos", "pos", utc(2023, 12, 15, MORNING), 40, 10.0, 50.0, 0.7),
    campaign("rc-2401-newyear-app", "app", utc(2024, 1, 10, MORNING), 25, 30.0, 169.0, 0.7),
    campaign("fx-2402-spring-invite-app", "app", utc(2024, 1, 28, EVENING), 25, 20.0, 69.0, 1.2).with_invites(),
    campaign("rc-2403-womensday-tmall", "tmall", utc(2024, 3, 1, EVENING), 10, 30.0, 199.0, 0.8),
    campaign("rc-2403-spring-wxmini", "wechat_mini", utc(2024, 3, 15, MORNING), 20, 10.0, 0.0, 0.6),
    campaign("rc-2404-live-douyin", "douyin", utc(2024, 4, 15, EVENING), 14, 25.0, 99.0, 0.9),
    campaign("rc-2405-520-app", "app", utc(2024, 5, 14, MORNING), 8, 20.0, 99.0, 0.5),
    campaign("rc-2405-618-tmall", "tmall", utc(2024, 5, 20, EVENING), 30, 50.0, 299.0, 1.8),
    campaign("rc-2405-618-jd", "jd", utc(2024, 5, 31, EVENING), 19, 40.0, 199.0, 1.2),
    campaign("fx-2407-summer-invite-wxmini", "wechat_mini", utc(2024, 7, 1, EVENING), 30, 20.0, 39.0, 1.3).with_invites(),
    campaign("rc-2408-stores-pos", "pos", utc(2024, 8, 1, MORNING), 45, 10.0, 50.0, 0.7),
    campaign("rc-2408-summer-douyin", "douyin", utc(2024, 8, 20, EVENING), 14, 20.0, 89.0, 0.7),
    campaign("rc-2409-midautumn-wxmini", "wechat_mini", utc(2024, 9, 8, MORNING), 14, 15.0, 59.0, 0.6),
    campaign("rc-2410-double11-tmall", "tmall", utc(2024, 10, 14, EVENING), 28, 60.0, 299.0, 2.0),
    campaign("rc-2410-double11-jd", "jd", utc(2024, 10, 20, EVENING), 22, 50.0, 249.0, 1.2),
    campaign("rc-2411-winter-douyin", "douyin", utc(2024, 11, 20, EVENING), 14, 30.0, 129.0, 0.8),
    campaign("rc-2412-double12-app", "app", utc(2024, 12, 1, MORNING), 14, 20.0, 99.0, 0.6),
];

/// A sale: members active at the time can claim its promo coupon, and prices are marked down
/// while it runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sale {
    /// Stored as the promo coupons' campaign_id.
    pub id: &'static str,
    pub start: i64,
    pub days: i64,
    pub face: f64,
    pub threshold: f64,
}

impl Sale {
    pub fn end(&self) -> i64 {
        self.start + self.days * DAY
    }
}

const fn sale(id: &'static str, start: i64, days: i64, face: f64, threshold: f64) -> Sale {
    Sale {
        id,
        start,
        days,
        face,
        threshold,
    }
}

// id, starts at (UTC), days, promo coupon face value and threshold.
#[rustfmt::skip]
pub const SALES: &[Sale] = &[
    sale("promo-2308-qixi", utc(2023, 8, 20, EVENING), 4, 15.0, 99.0),
    sale("promo-2311-double11", utc(2023, 10, 31, EVENING), 12, 50.0, 299.0),
    sale("promo-2312-double12", utc(2023, 12, 8, EVENING), 5, 30.0, 199.0),
    sale("promo-2402-newyear", utc(2024, 1, 25, MORNING), 10, 30.0, 169.0),
    sale("promo-2403-womensday", utc(2024, 3, 5, EVENING), 4, 20.0, 129.0),
    sale("promo-2405-520", utc(2024, 5, 17, EVENING), 4, 20.0, 99.0),
    sale("promo-2406-618", utc(2024, 5, 31, EVENING), 19, 50.0, 299.0),
    sale("promo-2408-summer", utc(2024, 8, 15, MORNING), 5, 20.0, 129.0),
    sale("promo-2409-midautumn", utc(2024, 9, 12, MORNING), 6, 20.0, 129.0),
    sale("promo-2411-double11", utc(2024, 10, 21, EVENING), 22, 60.0, 299.0),
    sale("promo-2412-double12", utc(2024, 12, 9, EVENING), 5, 30.0, 199.0),
];

/// The sale running at `t`, if any.
pub fn sale_at(t: i64) -> Option<&'static Sale> {
    SALES.iter().find(|s| s.start <= t && t < s.end())
}

/// When in the day (China, UTC+8) something happens: cumulative relative activity per hour,
/// 00:00 first, so drawing an hour is one search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayShape {
    cumulative: [f64; 24],
}

impl DayShape {
    const fn new(weights: [f64; 24]) -> DayShape {
        let mut cumulative = [0.0; 24];
        let mut total = 0.0;
        let mut i = 0;
        while i < 24 {
            total += weights[i];
            cumulative[i] = total;
            i += 1;
        }
        DayShape { cumulative }
    }

    fn hour<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        let x = rng.random::<f64>() * self.cumulative[23];
        self.cumulative.partition_point(|c| *c <= x).min(23) as i64
    }
}

/// People: quiet at night, busy at lunch and in the evening.
pub const PEOPLE: DayShape = DayShape::new([
    1.0, 0.6, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.5, 3.0, 3.2, 3.5, 4.0, 3.8, 3.3, 3.2, 3.3, 3.5, 3.8,
    4.5, 5.5, 6.0, 5.0, 3.0,
]);

/// Farms run scripts around the clock.
pub const SCRIPTS: DayShape = DayShape::new([
    2.5, 2.5, 2.5, 2.2, 2.0, 2.0, 2.0, 2.5, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0,
    3.5, 4.0, 4.0, 3.5, 3.0,
]);

/// A moment on the China day containing `t`, at an hour drawn from `shape`, never before `t`'s
/// day starts. Keeps `t`'s calendar day (in UTC+8) and replaces its time of day.
pub fn at_hour<R: Rng + ?Sized>(rng: &mut R, t: i64, shape: &DayShape) -> i64 {
    const OFFSET: i64 = 8 * HOUR;
    let local = t + OFFSET;
    let day_start = local - local.rem_euclid(DAY);
    let hour = shape.hour(rng);
    let secs = (uniform(rng, 0.0, HOUR as f64)) as i64;
    day_start + hour * HOUR + secs - OFFSET
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::CHANNELS;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn dates_are_utc_seconds() {
        assert_eq!(START, 1_688_169_600);
        assert_eq!(END, 1_735_689_600);
        assert_eq!(utc(2024, 2, 29, 12), 1_709_208_000);
    }

    #[test]
    fn campaigns_are_well_formed() {
        let mut ids: Vec<&str> = CAMPAIGNS.iter().map(|c| c.id).collect();
        ids.extend(SALES.iter().map(|s| s.id));
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "campaign and sale ids are unique");
        for c in CAMPAIGNS {
            assert!(
                CHANNELS.contains(&c.channel),
                "{} channel {}",
                c.id,
                c.channel
            );
            assert!(
                c.start >= START && c.end() < LAST_JOIN,
                "{} inside the history",
                c.id
            );
            assert!(c.face > 0.0 && c.reach > 0.0);
        }
        assert!(CAMPAIGNS.iter().filter(|c| c.fission).count() >= 2);
        for s in SALES {
            assert!(s.start >= START && s.end() < END && s.threshold > s.face);
        }
    }

    #[test]
    fn at_hour_stays_on_the_china_day() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // 2024-03-01 10:00 in China is 02:00 UTC.
        let t = utc(2024, 3, 1, 2);
        for _ in 0..200 {
            let s = at_hour(&mut rng, t, &PEOPLE);
            assert!(
                (utc(2024, 2, 29, 16)..utc(2024, 3, 1, 16)).contains(&s),
                "{s}"
            );
        }
    }
}

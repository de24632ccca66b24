/**
 * Synthetic loan applicants with a known default rule, for the credit-risk example.
 *
 * Features follow plausible distributions (log-normal income, age-dependent employment
 * and home ownership, purpose-dependent loan sizes, credit scores pulled down by late
 * payments). The label is drawn from a logistic model of a weighted combination with
 * interactions plus latent noise, so no model can be perfect.
 *
 * Two knobs move the world away from the training data, for drift and feedback work:
 * - `shift` (covariate drift; 0 = training population, 1 = a plausibly stressed one:
 *   lower incomes, higher debt-to-income, lower scores, more late payments, more debt
 *   consolidation, younger applicants). The default rule itself is unchanged.
 * - `concept` (concept drift; 0 = the training rule): the same features become riskier
 *   (higher base rate, debt-to-income and debt consolidation weigh more), so a model
 *   trained at 0 becomes miscalibrated even when the inputs look the same.
 *
 * @example
 *   const rows = generateApplicants(1000, { seed: 7, shift: 0 });
 *   const x = encodeBatch(rows);        // Float32Array, rows.length × FEATURE_COUNT
 *   const y = rows.map((r) => r.defaulted);
 */
import { Random } from './random.js';

export const HOME_OWNERSHIP = ['rent', 'own', 'mortgage'] as const;
export const PURPOSES = ['car', 'home', 'education', 'business', 'debt_consolidation'] as const;
export const EMPLOYMENT_TYPES = ['salaried', 'self_employed', 'contract', 'retired'] as const;
/** Loan terms offered, in months. */
export const LOAN_TERMS = [12, 24, 36, 48, 60, 72] as const;

export type HomeOwnership = (typeof HOME_OWNERSHIP)[number];
export type Purpose = (typeof PURPOSES)[number];
export type EmploymentType = (typeof EMPLOYMENT_TYPES)[number];

/** One loan application as the lender sees it. */
export interface Applicant {
  /** Years, 21–80. */
  age: number;
  /** Yearly gross income in dollars (log-normal, median about 58k at shift 0). */
  income: number;
  /** Requested amount in dollars. */
  loan_amount: number;
  loan_term_months: number;
  /** FICO-like, 300–850. */
  credit_score: number;
  /** Existing monthly debt payments over monthly income, 0–1.5. */
  debt_to_income: number;
  num_open_accounts: number;
  years_employed: number;
  /** Payments 30+ days late in the last two years. */
  num_late_payments: number;
  credit_history_years: number;
  home_ownership: HomeOwnership;
  purpose: Purpose;
  employment_type: EmploymentType;
}

/** An applicant with the outcome drawn from the known rule. */
export interface LabeledApplicant extends Applicant {
  /** 1 if the loan defaulted. */
  defaulted: 0 | 1;
}

/** Numeric features, in encoding order, as raw (unscaled) values. */
export const NUMERIC_FEATURES = [
  'age', 'income', 'loan_amount', 'loan_term_months', 'credit_score', 'debt_to_income',
  'num_open_accounts', 'years_employed', 'num_late_payments', 'credit_history_years',
] as const satisfies readonly (keyof Applicant)[];

/**
 * Names of the model's input columns, in order: the numeric features, then one-hot
 * columns named `category=value`.
 */
export const FEATURE_NAMES: readonly string[] = Object.freeze([
  ...NUMERIC_FEATURES,
  ...HOME_OWNERSHIP.map((v) => `home_ownership=${v}`),
  ...PURPOSES.map((v) => `purpose=${v}`),
  ...EMPLOYMENT_TYPES.map((v) => `employment_type=${v}`),
]);

/** Number of model input columns (F in `features` FP32 [batch, F]). */
export const FEATURE_COUNT = FEATURE_NAMES.length;

export interface GenerateOptions {
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Covariate drift, 0 (training population) upwards; 1 is a plausible stressed population. Default 0. */
  shift?: number;
  /** Concept drift of the default rule, 0 upwards. Default 0. */
  concept?: number;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const round = (v: number, digits: number): number => Math.round(v * 10 ** digits) / 10 ** digits;
const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

const PURPOSE_RISK: Record<Purpose, number> = { car: 0, home: -0.3, education: 0.2, business: 0.55, debt_consolidation: 0.35 };
const HOME_RISK: Record<HomeOwnership, number> = { rent: 0.3, own: -0.25, mortgage: 0 };
const EMPLOYMENT_RISK: Record<EmploymentType, number> = { salaried: 0, self_employed: 0.35, contract: 0.45, retired: 0.1 };
/** Intercept: about 19% of training-population loans default (about 42% at shift 1). */
const BASE_LOGIT = -2.4;
/** Standard deviation of the unobserved part of the risk (no model sees it). */
const LATENT_NOISE = 0.4;

/**
 * The log-odds of default for an applicant under the known rule, before latent noise.
 * Linear terms plus two interactions: a high debt-to-income hurts more with a low credit
 * score, and late payments hurt more for short credit histories.
 */
export function defaultLogit(a: Applicant, concept = 0): number {
  const loanToIncome = a.loan_amount / a.income;
  const dti = a.debt_to_income;
  return BASE_LOGIT + 0.5 * concept
    + (4.5 + 2 * concept) * (dti - 0.3)
    - 0.017 * (a.credit_score - 690)
    + 0.45 * a.num_late_payments
    + 2.4 * (loanToIncome - 0.3)
    - 0.05 * Math.min(a.years_employed, 10)
    - 0.012 * (a.age - 40)
    + 0.008 * (a.loan_term_months - 36)
    + 0.04 * Math.max(0, a.num_open_accounts - 8)
    + PURPOSE_RISK[a.purpose] + (a.purpose === 'debt_consolidation' ? 0.4 * concept : 0)
    + HOME_RISK[a.home_ownership]
    + EMPLOYMENT_RISK[a.employment_type]
    + 7.0 * Math.max(0, dti - 0.35) * Math.max(0, (700 - a.credit_score) / 100)
    + 0.25 * a.num_late_payments * (a.credit_history_years < 5 ? 1 : 0);
}

/** Draws applicants and their outcomes from one seeded stream. */
export class ApplicantGenerator {
  private readonly rng: Random;
  private readonly shift: number;
  private readonly concept: number;

  constructor(options: GenerateOptions = {}) {
    this.rng = new Random(options.seed ?? 1);
    this.shift = options.shift ?? 0;
    this.concept = options.concept ?? 0;
  }

  /** The next applicant, without a label. */
  applicant(): Applicant {
    const r = this.rng;
    const s = this.shift;

    const age = Math.round(clamp(r.normal(43 - 4 * s, 12), 21, 80));
    const employment_type = age >= 62 && r.bernoulli(0.6)
      ? 'retired'
      : r.pick(['salaried', 'self_employed', 'contract'] as const, [0.72, 0.15 + 0.03 * s, 0.13 + 0.07 * s]);
    const years_employed = employment_type === 'retired'
      ? 0
      : Math.round(clamp(r.logNormal(Math.log(Math.max(1, (age - 20) * 0.4)), 0.7), 0, age - 18) * 10) / 10;

    const employmentIncome = { salaried: 0, self_employed: 0.1, contract: -0.1, retired: -0.35 }[employment_type];
    const income = Math.round(clamp(
      r.logNormal(Math.log(58000) - 0.22 * s + employmentIncome + 0.01 * Math.min(years_employed, 20), 0.5),
      12000, 900000,
    ) / 100) * 100;

    const pOwn = clamp(0.05 + 0.006 * (age - 21), 0, 0.6);
    const pMortgage = clamp(0.2 + 0.2 * Math.log(income / 40000), 0.05, 0.6);
    const home_ownership = r.pick(HOME_OWNERSHIP, [Math.max(0.1, 1 - pOwn - pMortgage) + 0.1 * s, pOwn, pMortgage]);

    const purpose = r.pick(PURPOSES, [0.28, 0.14, age < 30 ? 0.16 : 0.05, 0.1, 0.3 + 0.25 * s]);
    const loanScale = { car: 0.35, home: 0.5, education: 0.3, business: 0.6, debt_consolidation: 0.3 }[purpose];
    const loan_amount = Math.round(clamp(r.logNormal(Math.log(income * loanScale), 0.45), 1000, 250000) / 100) * 100;
    const loan_term_months = r.pick(LOAN_TERMS, purpose === 'car' || purpose === 'home'
      ? [0.05, 0.1, 0.25, 0.2, 0.3, 0.1]
      : [0.15, 0.2, 0.3, 0.15, 0.15, 0.05]);

    const credit_history_years = round(clamp(r.normal((age - 18) * 0.7, 3), 0, age - 18), 1);
    const num_late_payments = r.poisson(clamp(0.5 + 0.45 * s + (credit_history_years < 3 ? 0.3 : 0), 0.05, 5));
    const credit_score = Math.round(clamp(
      r.normal(705 - 22 * s, 55) + 25 * Math.log(income / 58000) + 2 * Math.min(credit_history_years, 20)
        - 25 * num_late_payments - 20,
      300, 850,
    ));
    const debt_to_income = round(clamp(r.normal(0.28 + 0.08 * s, 0.11) + (home_ownership === 'mortgage' ? 0.06 : 0), 0, 1.5), 3);
    const num_open_accounts = 1 + r.poisson(clamp(3 + credit_history_years / 6 + 2 * s, 0.5, 15));

    return {
      age, income, loan_amount, loan_term_months, credit_score, debt_to_income, num_open_accounts,
      years_employed, num_late_payments, credit_history_years, home_ownership, purpose, employment_type,
    };
  }

  /** The next applicant with its outcome drawn from the known rule plus latent noise. */
  next(): LabeledApplicant {
    const a = this.applicant();
    const p = sigmoid(defaultLogit(a, this.concept) + this.rng.normal(0, LATENT_NOISE));
    return { ...a, defaulted: this.rng.bernoulli(p) ? 1 : 0 };
  }

  /** The next `n` labeled applicants. */
  take(n: number): LabeledApplicant[] {
    return Array.from({ length: n }, () => this.next());
  }
}

/** `n` labeled applicants from a fresh generator: same options, same rows. */
export function generateApplicants(n: number, options: GenerateOptions = {}): LabeledApplicant[] {
  return new ApplicantGenerator(options).take(n);
}

/** An applicant's model input as plain numbers (numeric raw values, then one-hot columns). */
export function encodeValues(a: Applicant): number[] {
  return [
    ...NUMERIC_FEATURES.map((k) => a[k]),
    ...HOME_OWNERSHIP.map((v) => (a.home_ownership === v ? 1 : 0)),
    ...PURPOSES.map((v) => (a.purpose === v ? 1 : 0)),
    ...EMPLOYMENT_TYPES.map((v) => (a.employment_type === v ? 1 : 0)),
  ];
}

/** An applicant's model input: a Float32Array of FEATURE_COUNT values in FEATURE_NAMES order. */
export function encode(a: Applicant): Float32Array {
  return Float32Array.from(encodeValues(a));
}

/** Rows as one flat row-major Float32Array [rows.length × FEATURE_COUNT], the model's `features` tensor. */
export function encodeBatch(rows: readonly Applicant[]): Float32Array {
  const out = new Float32Array(rows.length * FEATURE_COUNT);
  rows.forEach((row, i) => out.set(encodeValues(row), i * FEATURE_COUNT));
  return out;
}

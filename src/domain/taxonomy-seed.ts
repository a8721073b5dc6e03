/** The city's taxonomy with stable codes and Chinese labels; seeded at first start, operators add to it. */
export interface TaxonomySeedItem {
  code: string;
  label: string;
  stage?: string;
  parent?: string;
}

export const seedStages: TaxonomySeedItem[] = [
  { code: 'primary', label: '小学' },
  { code: 'junior', label: '初中' },
  { code: 'senior', label: '高中' },
  { code: 'vocational', label: '中职' },
];

const cn = ['一', '二', '三', '四', '五', '六'];
export const seedGrades: TaxonomySeedItem[] = [
  ...cn.map((c, i) => ({ code: `g${i + 1}`, label: `${c}年级`, stage: 'primary' })),
  { code: 'g7', label: '初一', stage: 'junior' },
  { code: 'g8', label: '初二', stage: 'junior' },
  { code: 'g9', label: '初三', stage: 'junior' },
  { code: 'g10', label: '高一', stage: 'senior' },
  { code: 'g11', label: '高二', stage: 'senior' },
  { code: 'g12', label: '高三', stage: 'senior' },
  { code: 'v1', label: '中职一年级', stage: 'vocational' },
  { code: 'v2', label: '中职二年级', stage: 'vocational' },
  { code: 'v3', label: '中职三年级', stage: 'vocational' },
];

export const seedSubjects: TaxonomySeedItem[] = [
  { code: 'chinese', label: '语文' },
  { code: 'math', label: '数学' },
  { code: 'english', label: '英语' },
  { code: 'physics', label: '物理' },
  { code: 'chemistry', label: '化学' },
  { code: 'biology', label: '生物' },
  { code: 'history', label: '历史' },
  { code: 'geography', label: '地理' },
  { code: 'morality_law', label: '道德与法治' },
  { code: 'science', label: '科学' },
  { code: 'it', label: '信息技术' },
  { code: 'music', label: '音乐' },
  { code: 'art', label: '美术' },
  { code: 'pe_health', label: '体育与健康' },
  { code: 'mental_health', label: '心理健康' },
  { code: 'vocational_major', label: '专业课', stage: 'vocational' },
];

export const seedTypes: TaxonomySeedItem[] = [
  { code: 'live', label: '直播课' },
  { code: 'recorded', label: '录播课' },
  { code: 'micro', label: '微课' },
  { code: 'special', label: '专题教育' },
  { code: 'special_epidemic', label: '防疫知识', parent: 'special' },
  { code: 'special_mental', label: '心理健康', parent: 'special' },
  { code: 'special_life', label: '生命教育', parent: 'special' },
  { code: 'special_patriotic', label: '爱国主义教育', parent: 'special' },
];

export const seedEditions: TaxonomySeedItem[] = [
  { code: 'pep', label: '人教版' },
  { code: 'bubian', label: '部编版' },
  { code: 'bnu', label: '北师大版' },
  { code: 'sujiao', label: '苏教版' },
  { code: 'fltrp', label: '外研版' },
  { code: 'huashi', label: '华师大版' },
  { code: 'xiangjiao', label: '湘教版' },
  { code: 'jijiao', label: '冀教版' },
  { code: 'general', label: '通用' },
];

export const taxonomySeed = { stage: seedStages, grade: seedGrades, subject: seedSubjects, type: seedTypes, edition: seedEditions };
